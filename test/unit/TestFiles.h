//===- TestFiles.h - Temp directories and file bytes for tests --*- C++ -*-===//

#ifndef MOE_TEST_UNIT_TESTFILES_H
#define MOE_TEST_UNIT_TESTFILES_H

#include "runtime/Tensor.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

namespace moe::test {

/// A fixture giving each test a fresh directory, removed when it ends. The
/// name carries a random suffix so concurrent runs from several build trees do
/// not collide.
class TempDirTest : public ::testing::Test {
protected:
  void SetUp() override {
    const ::testing::TestInfo *info =
        ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string("moe-unittests-") + info->test_suite_name() +
                       "." + info->name() + "-" +
                       std::to_string(std::random_device()());
    for (char &c : name)
      if (c == '/')
        c = '_';
    dir = std::filesystem::temp_directory_path() / name;
    std::filesystem::create_directories(dir);
  }

  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }

  /// The path of `name` inside this test's directory.
  std::string path(const std::string &name) const {
    return (dir / name).string();
  }

  std::filesystem::path dir;
};

inline std::string readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void writeBytes(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// A tensor whose bytes follow a pattern that differs per element and per
/// `seed` (bool elements alternate 0 and 1, the only valid bytes).
inline HostTensor patternTensor(DType dtype, std::vector<int64_t> shape,
                                unsigned seed = 0) {
  Expected<HostTensor> tensor = HostTensor::create(dtype, std::move(shape));
  EXPECT_TRUE(tensor.ok()) << tensor.message();
  auto *bytes = reinterpret_cast<unsigned char *>(tensor->bytes());
  for (size_t i = 0; i < tensor->byteSize(); ++i)
    bytes[i] = static_cast<unsigned char>(
        dtype == DType::Bool ? (i + seed) % 2 : i * 131 + seed * 17 + 7);
  return std::move(*tensor);
}

/// Whether `a` and `b` have the same dtype, shape and bytes.
inline ::testing::AssertionResult sameTensor(const HostTensor &a,
                                             const HostTensor &b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape())
    return ::testing::AssertionFailure()
           << a.typeString() << " vs " << b.typeString();
  if (a.byteSize() != 0 && std::memcmp(a.bytes(), b.bytes(), a.byteSize()) != 0)
    return ::testing::AssertionFailure()
           << "bytes differ for " << a.typeString();
  return ::testing::AssertionSuccess();
}

/// Shapes of ranks 0 to 4 (and one with no elements) for round-trip tests.
inline const std::vector<std::vector<int64_t>> &roundTripShapes() {
  static const std::vector<std::vector<int64_t>> shapes = {
      {}, {5}, {2, 3}, {2, 3, 4}, {2, 1, 3, 2}, {0, 3}};
  return shapes;
}

} // namespace moe::test

#endif // MOE_TEST_UNIT_TESTFILES_H
