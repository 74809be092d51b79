//===- IndexOperands.h - Ops that index with operands -----------*- C++ -*-===//
//
// The C++ side of MoEIndexOperandsInterface.td.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_INDEXOPERANDS_H
#define MOE_DIALECT_INDEXOPERANDS_H

#include "mlir/IR/OpDefinition.h"

#include <cstdint>

namespace mlir::moe {

/// An index operand and the values it may hold: `lower <= v < upper`.
struct IndexOperandRange {
  OpOperand *operand;
  int64_t lower;
  int64_t upper;
  /// What an element indexes, for messages: "a token of the group".
  StringRef meaning;
};

} // namespace mlir::moe

#include "dialect/MoEIndexOperandsInterface.h.inc"

#endif // MOE_DIALECT_INDEXOPERANDS_H
