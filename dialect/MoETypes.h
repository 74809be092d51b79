//===- MoETypes.h - The routing plan type -----------------------*- C++ -*-===//

#ifndef MOE_DIALECT_MOETYPES_H
#define MOE_DIALECT_MOETYPES_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Types.h"

#define GET_TYPEDEF_CLASSES
#include "dialect/MoETypes.h.inc"

#endif // MOE_DIALECT_MOETYPES_H
