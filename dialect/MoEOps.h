//===- MoEOps.h - Level-1 moe operations ------------------------*- C++ -*-===//
//
// The public header of the dialect: including it gives the dialect, its
// attributes, types and operations.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_MOEOPS_H
#define MOE_DIALECT_MOEOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/TilingInterface.h"

#include "dialect/IndexOperands.h"
#include "dialect/MoEAttrs.h"
#include "dialect/MoEDialect.h"
#include "dialect/MoETypes.h"
#include "dialect/SizeLimits.h"

#define GET_OP_CLASSES
#include "dialect/MoEOps.h.inc"

#endif // MOE_DIALECT_MOEOPS_H
