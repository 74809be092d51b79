//===- MoEAttrs.h - Router, score and activation attributes -----*- C++ -*-===//

#ifndef MOE_DIALECT_MOEATTRS_H
#define MOE_DIALECT_MOEATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/Support/LLVM.h"

#include "dialect/MoEEnums.h.inc"
#include "dialect/MoERouterInterface.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/MoEAttrs.h.inc"

#endif // MOE_DIALECT_MOEATTRS_H
