//===- Capacity.cpp - Expert capacity of docs/routers.md §2 ---------------===//

#include "dialect/Capacity.h"

#include <cmath>

namespace mlir::moe {

double rawCapacity(int64_t numTokens, int64_t numExperts,
                   double capacityFactor) {
  return static_cast<double>(numTokens) * capacityFactor /
         static_cast<double>(numExperts);
}

double roundCapacity(double raw, CapacityRounding rounding) {
  // std::nearbyint rounds half to even in the default rounding mode.
  return rounding == CapacityRounding::ceil ? std::ceil(raw)
                                            : std::nearbyint(raw);
}

std::optional<int64_t> computeCapacity(int64_t numTokens, int64_t numExperts,
                                       double capacityFactor,
                                       CapacityRounding rounding,
                                       int64_t multipleOf,
                                       CapacityError *error) {
  auto fail = [&](CapacityError why) -> std::optional<int64_t> {
    if (error)
      *error = why;
    return std::nullopt;
  };
  double rounded = roundCapacity(
      rawCapacity(numTokens, numExperts, capacityFactor), rounding);
  if (!(rounded >= 1.0))
    return fail(CapacityError::BelowOne);
  // Compared as doubles: converting a larger value to int64_t is undefined.
  if (!(rounded <= static_cast<double>(kMaxCapacity)))
    return fail(CapacityError::TooLarge);
  auto capacity = static_cast<int64_t>(rounded);
  // Round up without computing `capacity + multipleOf - 1`, which overflows
  // for a huge multipleOf.
  int64_t multiples = capacity / multipleOf + (capacity % multipleOf != 0);
  if (multiples > kMaxCapacity / multipleOf)
    return fail(CapacityError::TooLarge);
  return multiples * multipleOf;
}

} // namespace mlir::moe
