//===- ArtifactFiles.h - Test artifacts and their data ----------*- C++ -*-===//
//
// Paths of the hand-written artifacts in artifacts/ and the tensors that go
// with them, shared by the Model and C API tests.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TEST_UNIT_ARTIFACTFILES_H
#define MOE_TEST_UNIT_ARTIFACTFILES_H

#include "runtime/SafeTensors.h"
#include "runtime/Tensor.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#ifndef MOE_TEST_ARTIFACTS_DIR
#error "MOE_TEST_ARTIFACTS_DIR must name the directory of the test artifacts"
#endif

namespace moe::test {

/// The path of artifacts/<name>.c built as a shared object.
inline std::string artifactPath(const std::string &name) {
  return std::string(MOE_TEST_ARTIFACTS_DIR) + "/" + name + ".so";
}

/// An f32 tensor of `shape` whose i-th element is `first + i * step`.
inline HostTensor rampF32(std::vector<int64_t> shape, float first, float step) {
  Expected<HostTensor> tensor = HostTensor::create(DType::F32, shape);
  EXPECT_TRUE(tensor.ok()) << tensor.message();
  for (int64_t i = 0; i < tensor->numElements(); ++i)
    tensor->data<float>()[i] = first + static_cast<float>(i) * step;
  return std::move(*tensor);
}

// The operands of affine.so: out = x * w + bias, x f32 [2, 3, 4], w f32
// [3, 4], bias f32 [4].
inline HostTensor affineX() { return rampF32({2, 3, 4}, -3.0f, 0.5f); }
inline HostTensor affineW() { return rampF32({3, 4}, 0.25f, 0.25f); }
inline HostTensor affineBias() { return rampF32({4}, -1.5f, 1.0f); }

/// affine.so's result for affineX(), affineW(), affineBias().
inline std::vector<float> affineExpected() {
  HostTensor x = affineX(), w = affineW(), bias = affineBias();
  std::vector<float> out(24);
  for (int i = 0; i < 24; ++i)
    out[i] = x.data<float>()[i] * w.data<float>()[i % 12] +
             bias.data<float>()[i % 4];
  return out;
}

/// Writes affine.so's weights (plus an unrelated tensor, which binding must
/// ignore) to `path`.
inline void writeAffineWeights(const std::string &path) {
  std::map<std::string, HostTensor> tensors;
  tensors["w"] = affineW();
  tensors["bias"] = affineBias();
  tensors["unused"] = rampF32({2}, 0, 1);
  Status s = writeSafeTensors(path, tensors);
  ASSERT_TRUE(s.ok()) << s.message();
}

} // namespace moe::test

#endif // MOE_TEST_UNIT_ARTIFACTFILES_H
