//===- Capacity.h - Expert capacity of ROUTERS.md §2 ------------*- C++ -*-===//
//
// The number of slots per expert per group, computed exactly as ROUTERS.md §2
// says, so that every shape downstream of a route is static.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_CAPACITY_H
#define MOE_DIALECT_CAPACITY_H

#include "dialect/MoEAttrs.h"

#include <cstdint>
#include <optional>

namespace mlir::moe {

/// `raw = numTokens * capacityFactor / numExperts` (in that order, in
/// double precision), made an integer by `rounding` (`round` is
/// round-half-to-even).
double rawCapacity(int64_t numTokens, int64_t numExperts,
                   double capacityFactor);

/// ROUTERS.md §2: the rounded raw capacity, rounded up to a multiple of
/// `multipleOf`; std::nullopt when the rounded raw capacity is below 1.
std::optional<int64_t> computeCapacity(int64_t numTokens, int64_t numExperts,
                                       double capacityFactor,
                                       CapacityRounding rounding,
                                       int64_t multipleOf);

} // namespace mlir::moe

#endif // MOE_DIALECT_CAPACITY_H
