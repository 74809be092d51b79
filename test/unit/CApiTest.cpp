//===- CApiTest.cpp - The C API in libmoe_runtime.so ----------------------===//

#include "runtime/moe_runtime.h"

#include "ArtifactFiles.h"
#include "TestFiles.h"

#include <gtest/gtest.h>

#include <climits>
#include <cstring>
#include <memory>

#include <sys/mman.h>
#include <unistd.h>

using namespace moe;
using namespace moe::test;

extern "C" int moeTestRunAffineFromC(const char *artifact, const char *weights,
                                     float *out, char *error, size_t errorSize);

namespace {

struct FreeModel {
  void operator()(moe_model_t *model) const { moe_model_free(model); }
};
using ModelPtr = std::unique_ptr<moe_model_t, FreeModel>;

const int64_t kXShape[] = {2, 3, 4};

class CApiTest : public TempDirTest {
protected:
  void SetUp() override {
    TempDirTest::SetUp();
    weights = path("w.safetensors");
    writeAffineWeights(weights);
    model.reset(moe_model_load(artifactPath("affine").c_str()));
    ASSERT_NE(model, nullptr) << moe_model_last_error(nullptr);
  }

  /// Expects `status` to be MOE_ERROR with exactly `message`.
  void expectError(moe_status_t status, const std::string &message) {
    EXPECT_EQ(status, MOE_ERROR);
    EXPECT_EQ(moe_model_last_error(model.get()), message);
  }

  std::string weights;
  ModelPtr model;
};

TEST_F(CApiTest, RunsAModel) {
  EXPECT_STREQ(moe_model_last_error(model.get()), "");
  HostTensor x = affineX();
  ASSERT_EQ(moe_model_bind_weights_file(model.get(), weights.c_str()), MOE_OK)
      << moe_model_last_error(model.get());
  ASSERT_EQ(moe_model_bind_input(model.get(), "x", MOE_DTYPE_F32, 3, kXShape,
                                 x.bytes()),
            MOE_OK)
      << moe_model_last_error(model.get());
  ASSERT_EQ(moe_model_run(model.get()), MOE_OK)
      << moe_model_last_error(model.get());

  ASSERT_EQ(moe_model_num_results(model.get()), 1u);
  const char *name = nullptr;
  moe_dtype_t dtype = MOE_DTYPE_BOOL;
  size_t rank = 0;
  const int64_t *shape = nullptr;
  const void *data = nullptr;
  ASSERT_EQ(
      moe_model_result(model.get(), 0, &name, &dtype, &rank, &shape, &data),
      MOE_OK);
  EXPECT_STREQ(name, "out");
  EXPECT_EQ(dtype, MOE_DTYPE_F32);
  ASSERT_EQ(rank, 3u);
  EXPECT_EQ(std::vector<int64_t>(shape, shape + 3),
            (std::vector<int64_t>{2, 3, 4}));
  std::vector<float> expected = affineExpected();
  for (int i = 0; i < 24; ++i)
    EXPECT_EQ(static_cast<const float *>(data)[i], expected[i]);
}

TEST_F(CApiTest, CopiesInputsAndBindsWeightsFromMemory) {
  HostTensor x = affineX(), w = affineW(), bias = affineBias();
  const int64_t wShape[] = {3, 4}, biasShape[] = {4};
  ASSERT_EQ(moe_model_bind_weight(model.get(), "w", MOE_DTYPE_F32, 2, wShape,
                                  w.bytes()),
            MOE_OK);
  ASSERT_EQ(moe_model_bind_weight(model.get(), "bias", MOE_DTYPE_F32, 1,
                                  biasShape, bias.bytes()),
            MOE_OK);
  ASSERT_EQ(moe_model_bind_input(model.get(), "x", MOE_DTYPE_F32, 3, kXShape,
                                 x.bytes()),
            MOE_OK);
  // The binding copied x: changing the caller's buffer changes nothing.
  std::memset(x.bytes(), 0, x.byteSize());
  ASSERT_EQ(moe_model_run(model.get()), MOE_OK);
  const void *data = nullptr;
  ASSERT_EQ(moe_model_result(model.get(), 0, nullptr, nullptr, nullptr, nullptr,
                             &data),
            MOE_OK);
  EXPECT_EQ(static_cast<const float *>(data)[23], affineExpected()[23]);
}

TEST_F(CApiTest, DescribesTheArguments) {
  ASSERT_EQ(moe_model_num_args(model.get()), 3u);
  const char *name = nullptr;
  moe_arg_role_t role = MOE_ROLE_INPUT;
  moe_dtype_t dtype = MOE_DTYPE_BOOL;
  size_t rank = 0;
  const int64_t *shape = nullptr;
  ASSERT_EQ(moe_model_arg(model.get(), 1, &name, &role, &dtype, &rank, &shape),
            MOE_OK);
  EXPECT_STREQ(name, "w");
  EXPECT_EQ(role, MOE_ROLE_WEIGHT);
  EXPECT_EQ(dtype, MOE_DTYPE_F32);
  ASSERT_EQ(rank, 2u);
  EXPECT_EQ(shape[0], 3);
  EXPECT_EQ(shape[1], 4);
  ASSERT_EQ(
      moe_model_arg(model.get(), 0, nullptr, &role, nullptr, nullptr, nullptr),
      MOE_OK);
  EXPECT_EQ(role, MOE_ROLE_INPUT);
  expectError(
      moe_model_arg(model.get(), 3, &name, nullptr, nullptr, nullptr, nullptr),
      "argument index 3 is out of range (3 arguments)");
}

TEST_F(CApiTest, WorksFromC) {
  float out[24] = {0};
  char error[256] = {0};
  ASSERT_EQ(moeTestRunAffineFromC(artifactPath("affine").c_str(),
                                  weights.c_str(), out, error, sizeof error),
            0)
      << error;
  HostTensor w = affineW(), bias = affineBias();
  EXPECT_EQ(out[13], w.data<float>()[1] + bias.data<float>()[1]);

  ASSERT_EQ(moeTestRunAffineFromC(artifactPath("affine").c_str(),
                                  path("missing.safetensors").c_str(), out,
                                  error, sizeof error),
            1);
  EXPECT_NE(std::string(error).find("cannot open"), std::string::npos) << error;
}

TEST(CApiLoadTest, ReportsLoadFailuresPerThread) {
  std::string missing = artifactPath("no-entry");
  EXPECT_EQ(moe_model_load(missing.c_str()), nullptr);
  std::string message = moe_model_last_error(nullptr);
  EXPECT_EQ(message.rfind("model '" + missing +
                              "': not a moe artifact: missing symbol "
                              "'moe_entry'",
                          0),
            0u)
      << message;
  EXPECT_EQ(moe_model_load(nullptr), nullptr);
  EXPECT_STREQ(moe_model_last_error(nullptr), "the path is NULL");
}

TEST(CApiLoadTest, ToleratesANullModel) {
  EXPECT_EQ(moe_model_run(nullptr), MOE_ERROR);
  EXPECT_STREQ(moe_model_last_error(nullptr), "the model is NULL");
  EXPECT_EQ(moe_model_num_args(nullptr), 0u);
  EXPECT_EQ(moe_model_num_results(nullptr), 0u);
  EXPECT_EQ(moe_model_bind_weights_file(nullptr, "w"), MOE_ERROR);
  moe_model_free(nullptr);
}

TEST_F(CApiTest, ReportsWeightFileErrors) {
  std::string missing = path("missing.safetensors");
  expectError(moe_model_bind_weights_file(model.get(), missing.c_str()),
              "safetensors file '" + missing +
                  "': cannot open: No such file or directory");
  expectError(moe_model_bind_weights_file(model.get(), nullptr),
              "the path is NULL");

  std::map<std::string, HostTensor> tensors;
  tensors["w"] = rampF32({3, 4, 1}, 0, 1);
  tensors["bias"] = affineBias();
  std::string bad = path("bad.safetensors");
  ASSERT_TRUE(writeSafeTensors(bad, tensors).ok());
  expectError(moe_model_bind_weights_file(model.get(), bad.c_str()),
              "weight 'w' in '" + bad +
                  "': expected f32 [3, 4], got f32 [3, 4, 1]");
}

TEST_F(CApiTest, ReportsInputErrors) {
  HostTensor x = affineX();
  expectError(moe_model_bind_input(model.get(), "y", MOE_DTYPE_F32, 3, kXShape,
                                   x.bytes()),
              "no input named 'y' (inputs: 'x')");
  expectError(moe_model_bind_input(model.get(), nullptr, MOE_DTYPE_F32, 3,
                                   kXShape, x.bytes()),
              "the input name is NULL");
  expectError(moe_model_bind_input(model.get(), "x", MOE_DTYPE_I32, 3, kXShape,
                                   x.bytes()),
              "input 'x': expected f32 [2, 3, 4], got i32 [2, 3, 4]");
  expectError(moe_model_bind_input(model.get(), "x", MOE_DTYPE_F32, 2, kXShape,
                                   x.bytes()),
              "input 'x': expected f32 [2, 3, 4], got a rank-2 f32 tensor");
  expectError(moe_model_bind_input(model.get(), "x",
                                   static_cast<moe_dtype_t>(99), 3, kXShape,
                                   x.bytes()),
              "input 'x': unknown moe_dtype_t value 99");
  expectError(moe_model_bind_input(model.get(), "x", MOE_DTYPE_F32, 3, nullptr,
                                   x.bytes()),
              "input 'x': the shape is NULL for a rank-3 tensor");
  expectError(moe_model_bind_input(model.get(), "x", MOE_DTYPE_F32, 3, kXShape,
                                   nullptr),
              "input 'x': the data is NULL for a f32 [2, 3, 4] tensor");
  const int64_t negative[] = {2, -3, 4};
  expectError(moe_model_bind_input(model.get(), "x", MOE_DTYPE_F32, 3, negative,
                                   x.bytes()),
              "input 'x': expected f32 [2, 3, 4], got f32 [2, ?, 4]");
  const unsigned char notBool[] = {2};
  const int64_t one[] = {1};
  EXPECT_EQ(
      moe_model_bind_input(model.get(), "x", MOE_DTYPE_BOOL, 1, one, notBool),
      MOE_ERROR);
  EXPECT_EQ(
      std::string(moe_model_last_error(model.get())).rfind("input 'x': ", 0),
      0u);
  expectError(moe_model_bind_weight(model.get(), "x", MOE_DTYPE_F32, 3, kXShape,
                                    x.bytes()),
              "'x' is an input, not a weight (weights: 'w', 'bias')");
}

/// `bytes` readable bytes that end where an unreadable page begins: reading
/// one byte past them faults.
class GuardedBuffer {
public:
  explicit GuardedBuffer(size_t bytes) : size(bytes) {
    long page = sysconf(_SC_PAGESIZE);
    mapped = (bytes + page - 1) / page * page + page;
    base = static_cast<unsigned char *>(
        mmap(nullptr, mapped, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    EXPECT_NE(base, MAP_FAILED);
    EXPECT_EQ(mprotect(base + mapped - page, page, PROT_NONE), 0);
  }
  ~GuardedBuffer() { munmap(base, mapped); }
  void *data() { return base + mapped - sysconf(_SC_PAGESIZE) - size; }

private:
  size_t size, mapped;
  unsigned char *base;
};

TEST_F(CApiTest, ChecksTheCallersTensorBeforeReadingIt) {
  // 24 floats, claimed as 24 doubles: refused before anything is copied (the
  // copy would fault on the guard page).
  GuardedBuffer x(24 * sizeof(float));
  std::memcpy(x.data(), affineX().bytes(), 24 * sizeof(float));
  expectError(moe_model_bind_input(model.get(), "x", MOE_DTYPE_F64, 3, kXShape,
                                   x.data()),
              "input 'x': expected f32 [2, 3, 4], got f64 [2, 3, 4]");
  // A lying rank is rejected without reading (or allocating for) the shape.
  expectError(moe_model_bind_input(model.get(), "x", MOE_DTYPE_F32,
                                   size_t(1) << 40, kXShape, x.data()),
              "input 'x': expected f32 [2, 3, 4], got a rank-1099511627776 "
              "f32 tensor");
  // A negative dtype is a status, not undefined behaviour.
  expectError(moe_model_bind_input(model.get(), "x",
                                   static_cast<moe_dtype_t>(-1), 3, kXShape,
                                   x.data()),
              "input 'x': unknown moe_dtype_t value -1");
  expectError(moe_model_bind_weight(model.get(), "w",
                                    static_cast<moe_dtype_t>(INT32_MIN), 3,
                                    kXShape, x.data()),
              "weight 'w': unknown moe_dtype_t value -2147483648");
  // The exact description binds, reading exactly the 96 bytes given.
  EXPECT_EQ(moe_model_bind_input(model.get(), "x", MOE_DTYPE_F32, 3, kXShape,
                                 x.data()),
            MOE_OK)
      << moe_model_last_error(model.get());
}

TEST_F(CApiTest, ReportsRunAndResultErrors) {
  expectError(moe_model_result(model.get(), 0, nullptr, nullptr, nullptr,
                               nullptr, nullptr),
              "no results yet: moe_model_run has not succeeded");
  expectError(moe_model_run(model.get()),
              "3 arguments are not bound: input 'x', weight 'w', weight "
              "'bias'");
  ASSERT_EQ(moe_model_bind_weights_file(model.get(), weights.c_str()), MOE_OK);
  expectError(moe_model_run(model.get()), "input 'x' is not bound");
  HostTensor x = affineX();
  ASSERT_EQ(moe_model_bind_input(model.get(), "x", MOE_DTYPE_F32, 3, kXShape,
                                 x.bytes()),
            MOE_OK);
  double milliseconds = -1;
  expectError(moe_model_last_device_ms(model.get(), &milliseconds),
              "no device time: moe_model_run has not succeeded");
  ASSERT_EQ(moe_model_run(model.get()), MOE_OK);
  expectError(moe_model_result(model.get(), 1, nullptr, nullptr, nullptr,
                               nullptr, nullptr),
              "result index 1 is out of range (1 result)");
  // A CPU artifact has no device time; nothing is written.
  expectError(moe_model_last_device_ms(model.get(), &milliseconds),
              "no device time: the model runs on the CPU");
  EXPECT_EQ(milliseconds, -1);
}

TEST(CApiThreadsTest, RunsAGridOnTheThreadsSet) {
  ModelPtr grid(moe_model_load(artifactPath("grid").c_str()));
  ASSERT_NE(grid, nullptr) << moe_model_last_error(nullptr);
  float x[64];
  for (int i = 0; i < 64; ++i)
    x[i] = static_cast<float>(i);
  const int64_t shape[] = {64};
  ASSERT_EQ(moe_model_bind_input(grid.get(), "x", MOE_DTYPE_F32, 1, shape, x),
            MOE_OK);
  EXPECT_EQ(moe_model_set_threads(grid.get(), 0), MOE_ERROR);
  EXPECT_STREQ(moe_model_last_error(grid.get()),
               "the number of threads must be in [1, 1024], got 0");
  EXPECT_EQ(moe_model_set_threads(grid.get(), 1025), MOE_ERROR);
  EXPECT_EQ(moe_model_set_threads(nullptr, 2), MOE_ERROR);
  for (unsigned threads : {1u, 4u}) {
    ASSERT_EQ(moe_model_set_threads(grid.get(), threads), MOE_OK);
    ASSERT_EQ(moe_model_run(grid.get()), MOE_OK)
        << moe_model_last_error(grid.get());
    const void *out = nullptr, *visits = nullptr;
    ASSERT_EQ(moe_model_result(grid.get(), 0, nullptr, nullptr, nullptr,
                               nullptr, &out),
              MOE_OK);
    ASSERT_EQ(moe_model_result(grid.get(), 1, nullptr, nullptr, nullptr,
                               nullptr, &visits),
              MOE_OK);
    for (int i = 0; i < 64; ++i) {
      EXPECT_EQ(static_cast<const float *>(out)[i], 2.0f * i);
      EXPECT_EQ(static_cast<const int64_t *>(visits)[i], 1) << i;
    }
  }
}

} // namespace
