//===- Capacity.cpp - Expert capacity of ROUTERS.md §2 --------------------===//

#include "dialect/Capacity.h"

#include <cmath>

namespace mlir::moe {

double rawCapacity(int64_t numTokens, int64_t numExperts,
                   double capacityFactor) {
  return static_cast<double>(numTokens) * capacityFactor /
         static_cast<double>(numExperts);
}

std::optional<int64_t> computeCapacity(int64_t numTokens, int64_t numExperts,
                                       double capacityFactor,
                                       CapacityRounding rounding,
                                       int64_t multipleOf) {
  double raw = rawCapacity(numTokens, numExperts, capacityFactor);
  // std::nearbyint rounds half to even in the default rounding mode.
  double rounded = rounding == CapacityRounding::ceil ? std::ceil(raw)
                                                      : std::nearbyint(raw);
  if (!(rounded >= 1.0))
    return std::nullopt;
  int64_t capacity = static_cast<int64_t>(rounded);
  return (capacity + multipleOf - 1) / multipleOf * multipleOf;
}

} // namespace mlir::moe
