//===- ShapeChecks.h - Shape checks shared by the op verifiers --*- C++ -*-===//
//
// Internal to the dialect library: the verifiers of level 1 and level 2 ops
// report shapes the same way, `[8, 416, 768]`, expected vs actual.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_SHAPECHECKS_H
#define MOE_DIALECT_SHAPECHECKS_H

#include "dialect/MoETypes.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"

#include <string>

namespace mlir::moe::detail {

/// Formats a shape as `[8, 416, 768]` for diagnostics.
std::string shapeString(ArrayRef<int64_t> shape);

/// Checks that `value` has exactly `expected` as its shape.
LogicalResult checkShape(Operation *op, StringRef what, Value value,
                         ArrayRef<int64_t> expected);

/// Checks that `value`'s element type is `expected`.
LogicalResult checkSameElementType(Operation *op, StringRef what, Value value,
                                   Type expected);

/// Checks that `[G, S, ...]` tokens agree with the plan's groups and tokens.
LogicalResult checkTokensMatchPlan(Operation *op, StringRef what, Value tokens,
                                   PlanType plan);

/// Checks that the i32 index tensor `what` can number `count` things (`what
/// things`, for the message): indices `0 .. count - 1` (and -1) fit in i32.
LogicalResult checkI32Indexes(Operation *op, StringRef what, int64_t count,
                              StringRef things);

/// The static shape of a shaped value.
ArrayRef<int64_t> shapeOf(Value value);

} // namespace mlir::moe::detail

#endif // MOE_DIALECT_SHAPECHECKS_H
