//===- WeightPacking.h - Weights in the layout an entry reads ---*- C++ -*-===//
//
// An entry of artifact ABI version 4 may take a weight packed in strips of
// `columns` columns (its signature's `"strips": columns`,
// docs/artifact-abi.md): the layout the compiled contractions read their B
// operand in, so that the weight is rearranged once, when it is bound, instead
// of on every call.
//
//   logical  W : [B..., K, N]
//   packed   P : [B..., ceil(N / columns), K, columns]
//   P[b..., j, k, c] = W[b..., k, j * columns + c]   (0 past column N)
//
//===----------------------------------------------------------------------===//

#ifndef MOE_RUNTIME_WEIGHTPACKING_H
#define MOE_RUNTIME_WEIGHTPACKING_H

#include "runtime/Status.h"
#include "runtime/Tensor.h"

#include <cstdint>
#include <vector>

namespace moe {

/// The packed shape of a weight of `shape` (rank 2 or more) in strips of
/// `columns` (at least 1).
std::vector<int64_t> stripPackedShape(const std::vector<int64_t> &shape,
                                      int64_t columns);

/// `tensor` packed in strips of `columns`; fails (one line) for a tensor of
/// rank below 2, a `columns` below 1 or when the packed copy cannot be
/// allocated.
Expected<HostTensor> packStrips(const HostTensor &tensor, int64_t columns);

/// The same, consuming `tensor`: the memory of each matrix goes back to the
/// system (HostTensor::discardPrefix) once it is packed, so that packing
/// holds the weight twice only one matrix (one expert's) at a time.
Expected<HostTensor> packStrips(HostTensor &&tensor, int64_t columns);

} // namespace moe

#endif // MOE_RUNTIME_WEIGHTPACKING_H
