//===- TensorTest.cpp - DType, HostTensor, Status -------------------------===//

#include "runtime/Tensor.h"

#include <gtest/gtest.h>

#include <cstring>
#include <iterator>

using namespace moe;

namespace {

TEST(DTypeTest, NamesRoundTrip) {
  for (DType dtype : kAllDTypes) {
    std::optional<DType> parsed = dtypeFromName(dtypeName(dtype));
    ASSERT_TRUE(parsed.has_value()) << dtypeName(dtype);
    EXPECT_EQ(*parsed, dtype);
  }
  EXPECT_EQ(dtypeName(DType::F32), "f32");
  EXPECT_EQ(dtypeName(DType::BF16), "bf16");
  EXPECT_EQ(dtypeName(DType::Bool), "bool");
  EXPECT_FALSE(dtypeFromName("F32").has_value());
  EXPECT_FALSE(dtypeFromName("float32").has_value());
  EXPECT_FALSE(dtypeFromName("").has_value());
}

TEST(DTypeTest, Sizes) {
  const std::pair<DType, size_t> sizes[] = {
      {DType::F16, 2}, {DType::BF16, 2}, {DType::F32, 4}, {DType::F64, 8},
      {DType::I8, 1},  {DType::I16, 2},  {DType::I32, 4}, {DType::I64, 8},
      {DType::U8, 1},  {DType::U16, 2},  {DType::U32, 4}, {DType::U64, 8},
      {DType::Bool, 1}};
  ASSERT_EQ(std::size(sizes), std::size(kAllDTypes));
  for (auto [dtype, size] : sizes)
    EXPECT_EQ(dtypeSize(dtype), size) << dtypeName(dtype);
}

TEST(DTypeTest, StorageTypes) {
  EXPECT_TRUE(isStorageTypeOf<float>(DType::F32));
  EXPECT_TRUE(isStorageTypeOf<uint16_t>(DType::F16));
  EXPECT_TRUE(isStorageTypeOf<uint16_t>(DType::BF16));
  EXPECT_TRUE(isStorageTypeOf<bool>(DType::Bool));
  EXPECT_TRUE(isStorageTypeOf<int64_t>(DType::I64));
  EXPECT_FALSE(isStorageTypeOf<float>(DType::I32));
  EXPECT_FALSE(isStorageTypeOf<uint8_t>(DType::Bool));
  EXPECT_FALSE(isStorageTypeOf<int32_t>(DType::U32));
}

TEST(ShapeStringTest, Formats) {
  EXPECT_EQ(shapeString({8, 768, 3072}), "[8, 768, 3072]");
  EXPECT_EQ(shapeString({}), "[]");
  EXPECT_EQ(shapeString({0}), "[0]");
  EXPECT_EQ(shapeString({-1, 4}), "[?, 4]");
}

TEST(HostTensorTest, CreateIsZeroFilledAndAligned) {
  for (DType dtype : kAllDTypes) {
    for (const std::vector<int64_t> &shape : std::vector<std::vector<int64_t>>{
             {},
             {7},
             {3, 5},
             {2, 3, 4},
             {2, 1, 3, 5},
             // Large enough for mapped pages (HostTensor::kMapThreshold).
             {(1 << 18) + 3}}) {
      SCOPED_TRACE(std::string(dtypeName(dtype)) + " " + shapeString(shape));
      Expected<HostTensor> tensor = HostTensor::create(dtype, shape);
      ASSERT_TRUE(tensor.ok()) << tensor.message();
      int64_t numElements = 1;
      for (int64_t d : shape)
        numElements *= d;
      EXPECT_EQ(tensor->dtype(), dtype);
      EXPECT_EQ(tensor->shape(), shape);
      EXPECT_EQ(tensor->rank(), shape.size());
      EXPECT_EQ(tensor->numElements(), numElements);
      EXPECT_EQ(tensor->byteSize(), numElements * dtypeSize(dtype));
      EXPECT_EQ(reinterpret_cast<uintptr_t>(tensor->bytes()) %
                    HostTensor::kAlignment,
                0u);
      for (size_t i = 0; i < tensor->byteSize(); ++i)
        ASSERT_EQ(tensor->bytes()[i], std::byte{0});
    }
  }
}

TEST(HostTensorTest, Accessors) {
  Expected<HostTensor> tensor = HostTensor::create(DType::F32, {8, 768, 3072});
  ASSERT_TRUE(tensor.ok());
  EXPECT_EQ(tensor->shapeString(), "[8, 768, 3072]");
  EXPECT_EQ(tensor->typeString(), "f32 [8, 768, 3072]");
  EXPECT_EQ(tensor->dim(1), 768);
  EXPECT_EQ(tensor->numElements(), 8 * 768 * 3072);

  tensor->data<float>()[1] = 2.5f;
  float value;
  std::memcpy(&value, tensor->bytes() + sizeof(float), sizeof(float));
  EXPECT_EQ(value, 2.5f);
  const HostTensor &constTensor = *tensor;
  EXPECT_EQ(constTensor.data<float>()[1], 2.5f);
}

TEST(HostTensorTest, EmptyTensors) {
  HostTensor empty;
  EXPECT_EQ(empty.typeString(), "f32 [0]");
  EXPECT_EQ(empty.numElements(), 0);
  EXPECT_EQ(empty.byteSize(), 0u);
  EXPECT_EQ(empty.bytes(), nullptr);

  Expected<HostTensor> zero = HostTensor::create(DType::I64, {4, 0, 2});
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(zero->numElements(), 0);
  EXPECT_EQ(zero->bytes(), nullptr);

  Expected<HostTensor> scalar = HostTensor::create(DType::F64, {});
  ASSERT_TRUE(scalar.ok());
  EXPECT_EQ(scalar->numElements(), 1);
  EXPECT_EQ(scalar->shapeString(), "[]");
}

TEST(HostTensorTest, CreateRejectsBadShapes) {
  Expected<HostTensor> negative = HostTensor::create(DType::F32, {2, -3});
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(negative.message(), "negative dimension in shape [2, ?]");

  Expected<HostTensor> huge =
      HostTensor::create(DType::F32, {INT64_MAX / 2, 3});
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.message().find("is too large"), std::string::npos);

  // A zero dimension makes any other dimension harmless.
  EXPECT_TRUE(HostTensor::create(DType::F64, {0, INT64_MAX}).ok());
}

TEST(HostTensorTest, CloneIsDeepAndMoveTransfers) {
  Expected<HostTensor> tensor = HostTensor::create(DType::I32, {3});
  ASSERT_TRUE(tensor.ok());
  tensor->data<int32_t>()[2] = 42;
  Expected<HostTensor> copy = tensor->clone();
  ASSERT_TRUE(copy.ok());
  EXPECT_NE(copy->bytes(), tensor->bytes());
  EXPECT_EQ(copy->data<int32_t>()[2], 42);
  copy->data<int32_t>()[2] = 7;
  EXPECT_EQ(tensor->data<int32_t>()[2], 42);

  const std::byte *buffer = tensor->bytes();
  HostTensor moved = std::move(*tensor);
  EXPECT_EQ(moved.bytes(), buffer);
  EXPECT_EQ(moved.typeString(), "i32 [3]");
}

TEST(HostTensorTest, CheckBoolBytes) {
  Expected<HostTensor> flags = HostTensor::create(DType::Bool, {3});
  ASSERT_TRUE(flags.ok());
  EXPECT_TRUE(flags->checkBoolBytes().ok());
  flags->bytes()[1] = std::byte{1};
  EXPECT_TRUE(flags->checkBoolBytes().ok());
  flags->bytes()[2] = std::byte{255};
  EXPECT_EQ(flags->checkBoolBytes().message(),
            "bool element 2 has byte value 255 (expected 0 or 1)");

  Expected<HostTensor> bytes = HostTensor::create(DType::U8, {1});
  ASSERT_TRUE(bytes.ok());
  bytes->bytes()[0] = std::byte{255};
  EXPECT_TRUE(bytes->checkBoolBytes().ok());
}

TEST(StatusTest, SuccessAndFailure) {
  Status ok = Status::success();
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.message(), "");
  EXPECT_TRUE(ok.withPrefix("ignored: ").ok());

  Status failed = Status::failure("expected ", 3, " got ", 4.5, '!');
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(failed.message(), "expected 3 got 4.5!");
  EXPECT_EQ(failed.withPrefix("file 'x': ").message(),
            "file 'x': expected 3 got 4.5!");
}

TEST(StatusTest, Expected) {
  Expected<int> value = 5;
  EXPECT_TRUE(value.ok());
  EXPECT_TRUE(static_cast<bool>(value));
  EXPECT_EQ(*value, 5);
  EXPECT_TRUE(value.status().ok());
  EXPECT_EQ(value.message(), "");

  Expected<int> error = Status::failure("no int");
  EXPECT_FALSE(error.ok());
  EXPECT_EQ(error.message(), "no int");
  EXPECT_EQ(error.status().message(), "no int");

  Expected<std::string> text = std::string("abc");
  EXPECT_EQ(text->size(), 3u);
  std::string taken = std::move(text).value();
  EXPECT_EQ(taken, "abc");
}

TEST(StatusTest, QuoteKeepsMessagesOnOneLine) {
  EXPECT_EQ(quote("w1"), "'w1'");
  EXPECT_EQ(quote("a'b\\c"), "'a\\'b\\\\c'");
  EXPECT_EQ(quote("line\nbreak\t\x7f"), "'line\\nbreak\\x09\\x7f'");
  EXPECT_EQ(quote("\x93NUMPY"), "'\\x93NUMPY'");
}

} // namespace
