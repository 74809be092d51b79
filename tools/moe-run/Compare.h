//===- Compare.h - Results against reference outputs ------------*- C++ -*-===//
//
// The PASS criterion is numpy.allclose's, element by element:
//   |got - ref| <= atol + rtol * |ref|
// with equal infinities passing and NaN passing only against NaN. The reported
// errors follow numpy.testing.assert_allclose: the largest |got - ref|, and
// the largest |got - ref| / |ref| (infinite where ref is 0 and got is not).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TOOLS_MOE_RUN_COMPARE_H
#define MOE_TOOLS_MOE_RUN_COMPARE_H

#include "runtime/Tensor.h"

#include <cstdint>

namespace moe {

struct Comparison {
  double maxAbsError = 0;
  double maxRelError = 0;
  /// Elements outside the tolerance.
  int64_t mismatches = 0;
  /// The first element with the largest absolute error among the
  /// mismatches; -1 when there are none.
  int64_t worstIndex = -1;

  bool passed() const { return mismatches == 0; }
};

/// Compares `got` with `ref`, which must have the same shape (dtypes may
/// differ: both are read as doubles).
Comparison compareTensors(const HostTensor &got, const HostTensor &ref,
                          double atol, double rtol);

} // namespace moe

#endif // MOE_TOOLS_MOE_RUN_COMPARE_H
