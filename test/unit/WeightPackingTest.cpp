//===- WeightPackingTest.cpp - Weights packed in strips -------------------===//

#include "runtime/WeightPacking.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace moe;

namespace {

/// A tensor of `dtype` whose element i holds i + 1 (so no element is 0).
template <typename T>
HostTensor numbered(DType dtype, const std::vector<int64_t> &shape) {
  HostTensor tensor = *HostTensor::create(dtype, shape);
  for (int64_t i = 0; i < tensor.numElements(); ++i)
    tensor.data<T>()[i] = static_cast<T>(i + 1);
  return tensor;
}

/// Checks every element of `packed` against the definition: P[b, j, k, c] =
/// W[b, k, j * columns + c], 0 past the last column.
template <typename T>
void expectPacked(const HostTensor &weight, const HostTensor &packed,
                  int64_t columns) {
  int64_t rank = weight.rank();
  int64_t k = weight.dim(rank - 2), n = weight.dim(rank - 1);
  int64_t strips = (n + columns - 1) / columns;
  int64_t matrices = weight.numElements() / (k * n);
  for (int64_t b = 0; b < matrices; ++b)
    for (int64_t j = 0; j < strips; ++j)
      for (int64_t row = 0; row < k; ++row)
        for (int64_t c = 0; c < columns; ++c) {
          int64_t column = j * columns + c;
          T expected =
              column < n ? weight.data<T>()[(b * k + row) * n + column] : T(0);
          T got = packed.data<T>()[((b * strips + j) * k + row) * columns + c];
          ASSERT_EQ(got, expected) << "b " << b << " strip " << j << " row "
                                   << row << " column " << c;
        }
}

TEST(WeightPackingTest, PacksExpertWeightsInStrips) {
  // 70 columns: two full strips of 32 and one of 6 padded with zeros.
  HostTensor weight = numbered<float>(DType::F32, {2, 3, 70});
  Expected<HostTensor> packed = packStrips(weight, 32);
  ASSERT_TRUE(packed.ok()) << packed.message();
  EXPECT_EQ(packed->shape(), (std::vector<int64_t>{2, 3, 3, 32}));
  EXPECT_EQ(stripPackedShape({2, 3, 70}, 32),
            (std::vector<int64_t>{2, 3, 3, 32}));
  expectPacked<float>(weight, *packed, 32);
}

TEST(WeightPackingTest, PacksMatricesOfAnyElementSize) {
  HostTensor matrix = numbered<int64_t>(DType::I64, {5, 16});
  Expected<HostTensor> packed = packStrips(matrix, 8);
  ASSERT_TRUE(packed.ok()) << packed.message();
  EXPECT_EQ(packed->shape(), (std::vector<int64_t>{2, 5, 8}));
  expectPacked<int64_t>(matrix, *packed, 8);
  HostTensor halves = numbered<uint16_t>(DType::U16, {2, 2, 3, 5});
  packed = packStrips(halves, 4);
  ASSERT_TRUE(packed.ok()) << packed.message();
  EXPECT_EQ(packed->shape(), (std::vector<int64_t>{2, 2, 2, 3, 4}));
  expectPacked<uint16_t>(halves, *packed, 4);
}

TEST(WeightPackingTest, ConsumingALargeTensorPacksTheSame) {
  // 4 experts of 256 x 320 f32: 1.3 MB, mapped pages that packing gives
  // back expert by expert.
  HostTensor weight = numbered<float>(DType::F32, {4, 256, 320});
  ASSERT_GE(weight.byteSize(), HostTensor::kMapThreshold);
  Expected<HostTensor> copied = packStrips(weight, 32);
  ASSERT_TRUE(copied.ok()) << copied.message();
  expectPacked<float>(weight, *copied, 32);
  Expected<HostTensor> consumed = packStrips(std::move(*weight.clone()), 32);
  ASSERT_TRUE(consumed.ok()) << consumed.message();
  ASSERT_EQ(consumed->byteSize(), copied->byteSize());
  EXPECT_EQ(std::memcmp(consumed->bytes(), copied->bytes(), copied->byteSize()),
            0);
}

TEST(WeightPackingTest, DiscardedPagesOfMappedTensorsReadAsZeros) {
  HostTensor large = numbered<float>(DType::F32, {1 << 19});
  large.discardPrefix(large.byteSize() / 2 + 100);
  // The whole pages of the first half and a bit are gone, the rest is kept.
  EXPECT_EQ(large.data<float>()[0], 0.0f);
  EXPECT_EQ(large.data<float>()[(1 << 18) - 1], 0.0f);
  EXPECT_EQ(large.data<float>()[(1 << 19) - 1], float(1 << 19));
  // A heap buffer (below the threshold) is left as it is.
  HostTensor small = numbered<float>(DType::F32, {16});
  small.discardPrefix(small.byteSize());
  EXPECT_EQ(small.data<float>()[0], 1.0f);
}

TEST(WeightPackingTest, PacksEmptyTensors) {
  HostTensor empty = *HostTensor::create(DType::F32, {0, 4, 64});
  Expected<HostTensor> packed = packStrips(empty, 32);
  ASSERT_TRUE(packed.ok()) << packed.message();
  EXPECT_EQ(packed->shape(), (std::vector<int64_t>{0, 2, 4, 32}));
}

TEST(WeightPackingTest, RejectsWhatCannotBePacked) {
  Expected<HostTensor> vector =
      packStrips(*HostTensor::create(DType::F32, {8}), 4);
  ASSERT_FALSE(vector.ok());
  EXPECT_EQ(
      vector.message(),
      "cannot pack a tensor of rank 1 in strips (it needs rank 2 or more)");
  Expected<HostTensor> none =
      packStrips(*HostTensor::create(DType::F32, {2, 8}), 0);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.message(), "cannot pack a tensor in strips of 0 columns");
}

} // namespace
