//===- SizeLimits.h - The sizes compiled code can index ---------*- C++ -*-===//
//
// Compiled code computes buffer sizes and offsets in `index` (i64) arithmetic
// and stores token, slot and row indices as i32 with -1 for "none". The
// verifiers reject shapes past these limits, naming them, instead of letting
// the size arithmetic overflow in the compiler or in the generated code.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_SIZELIMITS_H
#define MOE_DIALECT_SIZELIMITS_H

#include "mlir/IR/OpDefinition.h"
#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <limits>
#include <optional>

namespace mlir::moe {

/// The most bytes one tensor may occupy: byte offsets are i64.
inline constexpr int64_t kMaxTensorBytes = std::numeric_limits<int64_t>::max();

/// The most distinct values an i32 index table can hold: indices `0 .. n-1`
/// (and -1 for "none") with `n - 1 <= INT32_MAX`.
inline constexpr int64_t kMaxI32Indices =
    int64_t(std::numeric_limits<int32_t>::max()) + 1;

/// The product of `factors`, or std::nullopt when it overflows int64 (or a
/// factor is negative).
std::optional<int64_t> checkedProduct(llvm::ArrayRef<int64_t> factors);

/// Bytes per element of `type` in memory: `index` is 8, an integer or float
/// of `n` bits is `ceil(n / 8)`; std::nullopt for other types.
std::optional<int64_t> elementByteSize(Type type);

namespace detail {
/// Verifies that every ranked tensor operand and result of `op` has a static
/// byte size within kMaxTensorBytes.
LogicalResult verifyTensorsFitInMemory(Operation *op);
} // namespace detail

} // namespace mlir::moe

namespace mlir::OpTrait::moe {
/// Every moe op: its tensors' byte sizes fit in i64, so the products of their
/// dimensions that verifiers and lowerings compute cannot overflow.
template <typename ConcreteType>
class TensorsFitInMemory : public TraitBase<ConcreteType, TensorsFitInMemory> {
public:
  static LogicalResult verifyTrait(Operation *op) {
    return ::mlir::moe::detail::verifyTensorsFitInMemory(op);
  }
};
} // namespace mlir::OpTrait::moe

#endif // MOE_DIALECT_SIZELIMITS_H
