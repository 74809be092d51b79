//===- WeightPacking.cpp - Weights in the layout an entry reads -----------===//

#include "runtime/WeightPacking.h"

#include <algorithm>
#include <cstring>

using namespace moe;

std::vector<int64_t> moe::stripPackedShape(const std::vector<int64_t> &shape,
                                           int64_t columns) {
  std::vector<int64_t> packed(shape.begin(), shape.end() - 2);
  int64_t k = shape[shape.size() - 2], n = shape.back();
  packed.push_back((n + columns - 1) / columns);
  packed.push_back(k);
  packed.push_back(columns);
  return packed;
}

namespace {

/// packStrips; with `consumed`, each matrix of it is discarded once packed.
Expected<HostTensor> pack(const HostTensor &tensor, int64_t columns,
                          HostTensor *consumed) {
  if (tensor.rank() < 2)
    return Status::failure("cannot pack a tensor of rank ", tensor.rank(),
                           " in strips (it needs rank 2 or more)");
  if (columns < 1)
    return Status::failure("cannot pack a tensor in strips of ", columns,
                           " columns");
  // Zero-filled: the columns past N of the last strip stay 0.
  Expected<HostTensor> packed = HostTensor::create(
      tensor.dtype(), stripPackedShape(tensor.shape(), columns));
  if (!packed)
    return packed.status().withPrefix("packing in strips: ");
  size_t element = dtypeSize(tensor.dtype());
  int64_t k = tensor.dim(tensor.rank() - 2), n = tensor.dim(tensor.rank() - 1);
  int64_t strips = (n + columns - 1) / columns;
  int64_t matrices = k * n == 0 ? 0 : tensor.numElements() / (k * n);
  const std::byte *source = tensor.bytes();
  std::byte *target = packed->bytes();
  // Reads each matrix row by row (sequentially) and writes each row's piece
  // of every strip.
  for (int64_t b = 0; b < matrices; ++b) {
    const std::byte *matrix = source + b * k * n * element;
    std::byte *packedMatrix = target + b * strips * k * columns * element;
    for (int64_t row = 0; row < k; ++row)
      for (int64_t j = 0; j < strips; ++j) {
        int64_t width = std::min(columns, n - j * columns);
        std::memcpy(packedMatrix + ((j * k + row) * columns) * element,
                    matrix + (row * n + j * columns) * element,
                    width * element);
      }
    if (consumed)
      consumed->discardPrefix((b + 1) * k * n * element);
  }
  return packed;
}

} // namespace

Expected<HostTensor> moe::packStrips(const HostTensor &tensor,
                                     int64_t columns) {
  return pack(tensor, columns, nullptr);
}

Expected<HostTensor> moe::packStrips(HostTensor &&tensor, int64_t columns) {
  HostTensor consumed = std::move(tensor);
  return pack(consumed, columns, &consumed);
}
