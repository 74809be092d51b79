//===- ShapeChecks.cpp - Shape checks shared by the op verifiers ----------===//

#include "dialect/ShapeChecks.h"
#include "dialect/SizeLimits.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace mlir::moe::detail {
std::string shapeString(ArrayRef<int64_t> shape) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "[";
  llvm::interleaveComma(shape, os, [&](int64_t dim) {
    if (ShapedType::isDynamic(dim))
      os << "?";
    else
      os << dim;
  });
  os << "]";
  return text;
}

LogicalResult checkShape(Operation *op, StringRef what, Value value,
                         ArrayRef<int64_t> expected) {
  ArrayRef<int64_t> actual = cast<ShapedType>(value.getType()).getShape();
  if (actual == expected)
    return success();
  return op->emitOpError() << what << " must have shape "
                           << shapeString(expected) << ", got "
                           << shapeString(actual);
}

LogicalResult checkSameElementType(Operation *op, StringRef what, Value value,
                                   Type expected) {
  Type actual = cast<ShapedType>(value.getType()).getElementType();
  if (actual == expected)
    return success();
  return op->emitOpError() << what << " element type " << actual
                           << " differs from " << expected;
}

LogicalResult checkTokensMatchPlan(Operation *op, StringRef what, Value tokens,
                                   PlanType plan) {
  ArrayRef<int64_t> shape = cast<ShapedType>(tokens.getType()).getShape();
  if (shape[0] == plan.getGroups() && shape[1] == plan.getTokens())
    return success();
  return op->emitOpError() << what << " shape " << shapeString(shape)
                           << " does not match the plan's "
                           << (plan.hasDynamicGroups()
                                   ? std::string("?")
                                   : std::to_string(plan.getGroups()))
                           << " groups of " << plan.getTokens() << " tokens";
}

LogicalResult checkI32Indexes(Operation *op, StringRef what, int64_t count,
                              StringRef things) {
  if (count <= kMaxI32Indices)
    return success();
  return op->emitOpError() << what << " numbers " << count << " " << things
                           << " with i32 indices, which can number at most "
                           << kMaxI32Indices;
}

ArrayRef<int64_t> shapeOf(Value value) {
  return cast<ShapedType>(value.getType()).getShape();
}

} // namespace mlir::moe::detail
