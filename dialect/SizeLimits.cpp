//===- SizeLimits.cpp - The sizes compiled code can index -----------------===//

#include "dialect/SizeLimits.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/Support/CheckedArithmetic.h"

namespace mlir::moe {

std::optional<int64_t> checkedProduct(llvm::ArrayRef<int64_t> factors) {
  int64_t product = 1;
  for (int64_t factor : factors) {
    if (factor < 0)
      return std::nullopt;
    std::optional<int64_t> next = llvm::checkedMul(product, factor);
    if (!next)
      return std::nullopt;
    product = *next;
  }
  return product;
}

std::optional<int64_t> elementByteSize(Type type) {
  if (type.isIndex())
    return 8;
  if (type.isIntOrFloat())
    return (type.getIntOrFloatBitWidth() + 7) / 8;
  return std::nullopt;
}

namespace detail {

/// Whether a tensor of `type` has a byte size within kMaxTensorBytes. Zero
/// dimensions are left out: the tensor is then empty, but its strides are
/// still products of the other dimensions.
static bool fitsInMemory(RankedTensorType type) {
  std::optional<int64_t> elementBytes = elementByteSize(type.getElementType());
  if (!type.hasStaticShape() || !elementBytes)
    return true;
  SmallVector<int64_t> factors = {std::max<int64_t>(*elementBytes, 1)};
  for (int64_t dim : type.getShape())
    if (dim != 0)
      factors.push_back(dim);
  return checkedProduct(factors).has_value();
}

LogicalResult verifyTensorsFitInMemory(Operation *op) {
  auto check = [&](Type type, StringRef what, size_t index) -> LogicalResult {
    auto tensor = dyn_cast<RankedTensorType>(type);
    if (!tensor || fitsInMemory(tensor))
      return success();
    return op->emitOpError()
           << what << " #" << index << " of type " << type
           << " does not fit in memory: its size in bytes exceeds "
           << kMaxTensorBytes << " (2^63 - 1)";
  };
  for (auto [index, type] : llvm::enumerate(op->getOperandTypes()))
    if (failed(check(type, "operand", index)))
      return failure();
  for (auto [index, type] : llvm::enumerate(op->getResultTypes()))
    if (failed(check(type, "result", index)))
      return failure();
  return success();
}

} // namespace detail
} // namespace mlir::moe
