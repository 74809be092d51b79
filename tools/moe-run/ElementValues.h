//===- ElementValues.h - Tensor elements as numbers -------------*- C++ -*-===//
//
// moe-run compares, summarises and prints tensors of any dtype; it reads every
// element as a double, which holds f16, bf16, f32 and integers up to 2^53
// exactly.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TOOLS_MOE_RUN_ELEMENTVALUES_H
#define MOE_TOOLS_MOE_RUN_ELEMENTVALUES_H

#include "runtime/Tensor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace moe {

/// Element `index` (row-major) of `tensor`; bool elements read as 0 and 1.
double elementAt(const HostTensor &tensor, int64_t index);

/// `value` as printed in reports: 6 significant digits ("0.0001", "1e-05",
/// "inf", "nan").
std::string formatNumber(double value);

/// "[1, 2, 3]": the multi-index of row-major element `index` in `shape`.
std::string indexString(const std::vector<int64_t> &shape, int64_t index);

} // namespace moe

#endif // MOE_TOOLS_MOE_RUN_ELEMENTVALUES_H
