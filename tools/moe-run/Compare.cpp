//===- Compare.cpp - Results against reference outputs --------------------===//

#include "Compare.h"

#include "ElementValues.h"

#include <cassert>
#include <cmath>

using namespace moe;

Comparison moe::compareTensors(const HostTensor &got, const HostTensor &ref,
                               double atol, double rtol) {
  assert(got.shape() == ref.shape() && "compareTensors needs equal shapes");
  Comparison result;
  double worstMismatch = -1;
  for (int64_t i = 0; i < got.numElements(); ++i) {
    double a = elementAt(got, i), b = elementAt(ref, i);
    bool bothNan = std::isnan(a) && std::isnan(b);
    // Equal values (infinities included) have no error; a NaN on one side
    // only is an infinite one.
    double absError = bothNan || a == b                ? 0
                      : std::isnan(a) || std::isnan(b) ? INFINITY
                                                       : std::fabs(a - b);
    double relError = absError == 0   ? 0
                      : b == 0        ? INFINITY
                      : std::isinf(b) ? INFINITY
                                      : absError / std::fabs(b);
    result.maxAbsError = std::fmax(result.maxAbsError, absError);
    result.maxRelError = std::fmax(result.maxRelError, relError);
    // Equal values pass (infinities too, whatever rtol: 0 * inf is NaN),
    // and NaN against NaN (a NaN output the reference expects, e.g. of an
    // invalid token); an infinite error never does, even against rtol * |inf|.
    if (absError == 0 ||
        (std::isfinite(absError) && absError <= atol + rtol * std::fabs(b)))
      continue;
    ++result.mismatches;
    if (absError > worstMismatch) {
      worstMismatch = absError;
      result.worstIndex = i;
    }
  }
  return result;
}
