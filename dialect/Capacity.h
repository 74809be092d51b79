//===- Capacity.h - Expert capacity of docs/routers.md §2 -------*- C++ -*-===//
//
// The number of slots per expert per group, computed exactly as
// docs/routers.md §2 says, so that every shape downstream of a route is
// static. All arithmetic is checked: a capacity too large for the i32 slot
// indices of compiled code is an error, never an overflow.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_CAPACITY_H
#define MOE_DIALECT_CAPACITY_H

#include "dialect/MoEAttrs.h"

#include <cstdint>
#include <optional>

namespace mlir::moe {

/// The largest capacity there can be: slot indices are i32.
inline constexpr int64_t kMaxCapacity = 2147483647;

/// `raw = numTokens * capacityFactor / numExperts` (in that order, in
/// double precision).
double rawCapacity(int64_t numTokens, int64_t numExperts,
                   double capacityFactor);

/// `raw` made an integer by `rounding` (`round` is round-half-to-even), as a
/// double (it may be far beyond any integer type).
double roundCapacity(double raw, CapacityRounding rounding);

/// Why computeCapacity has no value.
enum class CapacityError {
  /// The rounded raw capacity is below 1 (or not a number).
  BelowOne,
  /// The rounded raw capacity, or its rounding up to `multipleOf`, exceeds
  /// kMaxCapacity.
  TooLarge,
};

/// docs/routers.md §2: the rounded raw capacity, rounded up to a multiple of
/// `multipleOf` (>= 1). std::nullopt, with the reason in `*error` when
/// given, when that is below 1 or above kMaxCapacity.
std::optional<int64_t> computeCapacity(int64_t numTokens, int64_t numExperts,
                                       double capacityFactor,
                                       CapacityRounding rounding,
                                       int64_t multipleOf,
                                       CapacityError *error = nullptr);

} // namespace mlir::moe

#endif // MOE_DIALECT_CAPACITY_H
