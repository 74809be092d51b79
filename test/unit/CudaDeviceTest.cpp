//===- CudaDeviceTest.cpp - The CUDA backend against a fake driver --------===//
//
// runtime/cuda is tested here without a GPU: MOE_CUDA_DRIVER points it at
// fakecuda/FakeCudaDriver.c, which records the calls it gets, keeps device
// memory on the host, runs its one kernel on the host and fails any call the
// test names. Loading, the order of calls, launch arguments, every error
// path and the release of every object are checked.
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/CudaDevice.h"
#include "runtime/DeviceRunner.h"
#include "runtime/moe_runtime.h"

#include "ArtifactFiles.h"
#include "ScopedEnvironment.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <optional>
#include <string>

using namespace moe;

namespace {

/// Points MOE_CUDA_DRIVER at `path` until destroyed.
class DriverPath : public test::ScopedEnvironment {
public:
  explicit DriverPath(const std::string &path)
      : ScopedEnvironment("MOE_CUDA_DRIVER", path) {}
};

/// The fake driver, loaded and reset for each test; its controls.
class CudaDeviceTest : public ::testing::Test {
protected:
  void SetUp() override {
    handle = ::dlopen(MOE_FAKE_CUDA_DRIVER, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(handle, nullptr) << ::dlerror();
    configure = reinterpret_cast<void (*)(int, const char *, int)>(
        ::dlsym(handle, "fake_cuda_configure"));
    log = reinterpret_cast<const char *(*)()>(::dlsym(handle, "fake_cuda_log"));
    alive = reinterpret_cast<int (*)(const char *)>(
        ::dlsym(handle, "fake_cuda_alive"));
    fail = reinterpret_cast<void (*)(const char *, int)>(
        ::dlsym(handle, "fake_cuda_fail"));
    ASSERT_TRUE(configure && log && alive && fail);
    configure(1, nullptr, 0);
  }
  void TearDown() override {
    if (handle)
      ::dlclose(handle);
  }

  /// Opens device `ordinal` of the fake driver.
  Expected<std::shared_ptr<CudaDevice>> open(int ordinal = 0) {
    return CudaDevice::open(ordinal);
  }

  DriverPath driver{MOE_FAKE_CUDA_DRIVER};
  void *handle = nullptr;
  void (*configure)(int devices, const char *failingCall, int error) = nullptr;
  const char *(*log)() = nullptr;
  int (*alive)(const char *kind) = nullptr;
  /// Makes `call` fail with `error` from now on, keeping the fake's objects.
  void (*fail)(const char *call, int error) = nullptr;
};

void expectError(const Status &status, const std::string &message) {
  ASSERT_FALSE(status.ok()) << "no error, expected: " << message;
  EXPECT_EQ(status.message(), message);
}

TEST(CudaDriverTest, ReportsAMissingDriverInOneLine) {
  DriverPath missing("/nonexistent/libcuda.so.1");
  Expected<std::shared_ptr<CudaDevice>> device = CudaDevice::open();
  ASSERT_FALSE(device.ok());
  EXPECT_EQ(device.message(),
            "no CUDA driver found: /nonexistent/libcuda.so.1: cannot open "
            "shared object file: No such file or directory");
  EXPECT_EQ(device.message().find('\n'), std::string::npos);
}

TEST(CudaDriverTest, ReportsALibraryThatIsNoDriver) {
  std::string artifact = std::string(MOE_TEST_ARTIFACTS_DIR) + "/affine.so";
  DriverPath notADriver(artifact);
  Expected<std::shared_ptr<CudaDriver>> driver = CudaDriver::load();
  ASSERT_FALSE(driver.ok());
  EXPECT_EQ(driver.message(),
            "the CUDA driver '" + artifact + "' has no entry point 'cuInit'");
}

TEST_F(CudaDeviceTest, OpensTheDeviceAndReleasesItsContext) {
  {
    Expected<std::shared_ptr<CudaDevice>> device = open();
    ASSERT_TRUE(device.ok()) << device.message();
    EXPECT_EQ((*device)->description(), "CUDA device 0: Fake GPU 0 (sm_90)");
    EXPECT_EQ((*device)->computeCapability(), 90);
    EXPECT_EQ(alive("contexts"), 1);
  }
  EXPECT_EQ(alive("contexts"), 0);
  // cuInit comes first; the primary context is retained once, released once.
  std::string calls = log();
  EXPECT_EQ(calls.rfind("cuInit(0)\n", 0), 0u) << calls;
  EXPECT_NE(calls.find("cuDevicePrimaryCtxRetain(0)"), std::string::npos);
  EXPECT_NE(calls.find("cuDevicePrimaryCtxRelease_v2(0)"), std::string::npos);
}

TEST_F(CudaDeviceTest, ReportsMissingDevices) {
  configure(0, nullptr, 0);
  expectError(open().status(), "no CUDA device found: the driver reports none");
  configure(1, nullptr, 0);
  expectError(open(3).status(), "no CUDA device 3: the driver reports 1");
  EXPECT_EQ(alive("contexts"), 0);
}

TEST_F(CudaDeviceTest, CopiesLaunchesAndReleasesEverything) {
  {
    Expected<std::shared_ptr<CudaDevice>> device = open();
    ASSERT_TRUE(device.ok()) << device.message();
    float host[16];
    for (int i = 0; i < 16; ++i)
      host[i] = float(i);
    Expected<CudaBuffer> buffer = (*device)->allocate(sizeof(host));
    ASSERT_TRUE(buffer.ok()) << buffer.message();
    ASSERT_TRUE((*device)->copyToDevice(*buffer, host, sizeof(host)).ok());
    Expected<CudaModule> module = (*device)->loadModule("FAKECUBIN image");
    ASSERT_TRUE(module.ok()) << module.message();
    Expected<cuda::Function> kernel = module->function("fake_scale");
    ASSERT_TRUE(kernel.ok()) << kernel.message();
    // fake_scale(data, n, factor): threads past n leave the data alone.
    cuda::DevicePtr data = buffer->address();
    int n = 13;
    float factor = 2.0f;
    std::vector<void *> parameters = {&data, &n, &factor};
    Status launched =
        (*device)->launch(*kernel, {{2, 1, 1}, {8, 1, 1}, 0}, parameters);
    ASSERT_TRUE(launched.ok()) << launched.message();
    float back[16];
    ASSERT_TRUE((*device)->copyToHost(back, *buffer, sizeof(back)).ok());
    for (int i = 0; i < 16; ++i)
      EXPECT_EQ(back[i], i < 13 ? 2.0f * i : float(i)) << i;
    EXPECT_NE(std::string(log()).find("cuLaunchKernel(fake_scale, grid "
                                      "2x1x1, block 8x1x1, shared 0)"),
              std::string::npos)
        << log();
    EXPECT_EQ(alive("allocations"), 1);
    EXPECT_EQ(alive("modules"), 1);
  }
  // Buffers and modules hold the device: all is released, the context last.
  EXPECT_EQ(alive("allocations"), 0);
  EXPECT_EQ(alive("modules"), 0);
  EXPECT_EQ(alive("contexts"), 0);
  std::string calls = log();
  EXPECT_LT(calls.find("cuMemFree_v2"),
            calls.find("cuDevicePrimaryCtxRelease"));
  EXPECT_LT(calls.find("cuModuleUnload"),
            calls.find("cuDevicePrimaryCtxRelease"));
}

TEST_F(CudaDeviceTest, ReportsEveryFailureWithTheCallThatFailed) {
  {
    Expected<std::shared_ptr<CudaDevice>> device = open();
    ASSERT_TRUE(device.ok()) << device.message();
    expectError((*device)->loadModule("not a cubin").status(),
                "cuModuleLoadData failed: CUDA_ERROR_INVALID_IMAGE (device "
                "kernel image is invalid)");
    Expected<CudaModule> module = (*device)->loadModule("FAKECUBIN");
    ASSERT_TRUE(module.ok()) << module.message();
    expectError(module->function("gemm").status(),
                "kernel 'gemm': cuModuleGetFunction failed: "
                "CUDA_ERROR_NOT_FOUND (named symbol not found)");
    Expected<CudaBuffer> small = (*device)->allocate(8);
    ASSERT_TRUE(small.ok()) << small.message();
    float four[4] = {};
    expectError((*device)->copyToDevice(*small, four, sizeof(four)),
                "copying 16 bytes into a device buffer of 8");
    expectError((*device)->copyToHost(four, *small, sizeof(four)),
                "copying 16 bytes out of a device buffer of 8");
    Expected<cuda::Function> kernel = module->function("fake_scale");
    ASSERT_TRUE(kernel.ok());
    std::vector<void *> none;
    expectError((*device)->launch(*kernel, {{0, 1, 1}, {1, 1, 1}, 0}, none),
                "a kernel launch with an empty grid");

    fail("cuMemAlloc_v2", 2);
    expectError((*device)->allocate(64).status(),
                "allocating 64 bytes on the device: cuMemAlloc failed: "
                "CUDA_ERROR_OUT_OF_MEMORY (out of memory)");
    fail("cuLaunchKernel", 719);
    cuda::DevicePtr data = small->address();
    int n = 2;
    float factor = 1.0f;
    std::vector<void *> parameters = {&data, &n, &factor};
    expectError(
        (*device)->launch(*kernel, {{1, 1, 1}, {2, 1, 1}, 0}, parameters),
        "cuLaunchKernel failed: CUDA_ERROR_LAUNCH_FAILED (unspecified "
        "launch failure)");
  }
  // Failed calls leave nothing behind.
  EXPECT_EQ(alive("allocations"), 0);
  EXPECT_EQ(alive("modules"), 0);
  EXPECT_EQ(alive("contexts"), 0);
  // A code the driver cannot name is still reported.
  fail("cuInit", 999);
  expectError(open().status(), "cuInit failed: CUDA error 999");
  fail(nullptr, 0);
}

TEST_F(CudaDeviceTest, TimesWithEventsOnAStream) {
  {
    Expected<std::shared_ptr<CudaDevice>> device = open();
    ASSERT_TRUE(device.ok()) << device.message();
    Expected<CudaStream> stream = (*device)->createStream();
    ASSERT_TRUE(stream.ok()) << stream.message();
    Expected<CudaEvent> start = (*device)->createEvent();
    Expected<CudaEvent> end = (*device)->createEvent();
    ASSERT_TRUE(start.ok() && end.ok());
    ASSERT_TRUE(start->record(stream->handle()).ok());
    ASSERT_TRUE(end->record(stream->handle()).ok());
    ASSERT_TRUE(stream->synchronize().ok());
    Expected<float> elapsed = end->millisecondsSince(*start);
    ASSERT_TRUE(elapsed.ok()) << elapsed.message();
    EXPECT_EQ(*elapsed, 1.5f);
    EXPECT_EQ(alive("streams"), 1);
    EXPECT_EQ(alive("events"), 2);
    // Moving hands the event over; it is destroyed once.
    CudaEvent moved = std::move(*start);
    EXPECT_EQ(alive("events"), 2);
  }
  EXPECT_EQ(alive("streams"), 0);
  EXPECT_EQ(alive("events"), 0);
}

} // namespace

namespace {

// A GPU artifact's host program (ABI 6) for the fake driver's one kernel:
// fake_scale(data, n, factor) on the input's buffer, then on the result's.
const char *kFakeArtifactSignature =
    R"({"entry":"f","abi":6,"checks":[],"device":"cuda",)"
    R"("args":[{"name":"x","role":"input","dtype":"f32","shape":[13]},)"
    R"({"name":"w","role":"weight","dtype":"f32","shape":[4]}],)"
    R"("results":[{"name":"y","dtype":"f32","shape":[13]}],)"
    R"("workspace_bytes":64,"launches":[)"
    R"({"kernel":"fake_scale","grid":[2,1,1],"block":[8,1,1],)"
    R"("args":[{"arg":0},{"i32":13},{"f32":2.0}]},)"
    R"({"kernel":"fake_scale","grid":[1,1,1],"block":[4,1,1],)"
    R"("args":[{"arg":2},{"i32":4},{"f32":0.5}]}]})";

/// The tensors of kFakeArtifactSignature: its arguments and its result.
struct FakeArtifactTensors {
  HostTensor x = *HostTensor::create(DType::F32, {13});
  HostTensor w = *HostTensor::create(DType::F32, {4});
  std::vector<HostTensor> results;
  FakeArtifactTensors() {
    results.push_back(*HostTensor::create(DType::F32, {13}));
  }
  std::vector<const HostTensor *> args() const { return {&x, &w}; }
};

/// The number of times `call` appears in `calls`.
size_t count(const std::string &calls, const std::string &call) {
  size_t n = 0;
  for (size_t at = calls.find(call); at != std::string::npos;
       at = calls.find(call, at + 1))
    ++n;
  return n;
}

/// The CUDA runner over the fake driver, its binary a fake cubin.
Expected<std::unique_ptr<DeviceRunner>> openFakeCudaRunner() {
  static const char image[] = "FAKECUBIN";
  return openCudaRunner(image, sizeof(image));
}

} // namespace

TEST_F(CudaDeviceTest, RunsAGpuArtifactsLaunchesInOrder) {
  Expected<Signature> signature = parseSignature(kFakeArtifactSignature);
  ASSERT_TRUE(signature.ok()) << signature.message();
  {
    Expected<std::unique_ptr<DeviceRunner>> runner = openFakeCudaRunner();
    ASSERT_TRUE(runner.ok()) << runner.message();
    FakeArtifactTensors tensors;
    for (int run = 0; run < 2; ++run)
      ASSERT_TRUE(
          (*runner)->run(*signature, tensors.args(), tensors.results).ok());
    std::string calls = log();
    // Buffers: x, w, y and the workspace, allocated once.
    EXPECT_EQ(count(calls, "cuMemAlloc_v2("), 4u) << calls;
    // The input every run, the weight once; the result back every run.
    EXPECT_EQ(count(calls, "cuMemcpyHtoD_v2("), 3u) << calls;
    EXPECT_EQ(count(calls, "cuMemcpyDtoH_v2("), 2u) << calls;
    // The launches in order, with their sizes.
    size_t first = calls.find(
        "cuLaunchKernel(fake_scale, grid 2x1x1, block 8x1x1, shared 0)");
    size_t second = calls.find(
        "cuLaunchKernel(fake_scale, grid 1x1x1, block 4x1x1, shared 0)");
    EXPECT_NE(first, std::string::npos) << calls;
    EXPECT_LT(first, second) << calls;
    EXPECT_EQ(count(calls, "cuModuleGetFunction(fake_scale)"), 1u) << calls;
    // The launches are timed with events around them (the fake's 1.5 ms).
    EXPECT_EQ(count(calls, "cuEventRecord"), 4u) << calls;
    EXPECT_EQ((*runner)->lastLaunchMilliseconds(), std::optional<double>(1.5));
  }
  EXPECT_EQ(alive("allocations"), 0);
  EXPECT_EQ(alive("modules"), 0);
}

TEST_F(CudaDeviceTest, ReportsAKernelTheBinaryLacks) {
  std::string json = kFakeArtifactSignature;
  json.replace(json.find("fake_scale"), 10, "missing_k");
  Expected<Signature> signature = parseSignature(json);
  ASSERT_TRUE(signature.ok()) << signature.message();
  Expected<std::unique_ptr<DeviceRunner>> runner = openFakeCudaRunner();
  ASSERT_TRUE(runner.ok()) << runner.message();
  FakeArtifactTensors tensors;
  Status s = (*runner)->run(*signature, tensors.args(), tensors.results);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(
      s.message().find("cuModuleGetFunction failed: CUDA_ERROR_NOT_FOUND"),
      std::string::npos)
      << s.message();
}

// Through the C API: a GPU artifact (artifacts/fake-cuda.c, one group a
// call) loads on the fake device, runs its launch for each of two groups
// and reports the device time of the run's launches (the fake's 1.5 ms a
// call).
TEST_F(CudaDeviceTest, ReportsAGpuRunsDeviceTimeThroughTheCApi) {
  moe_model_t *model = moe_model_load(test::artifactPath("fake-cuda").c_str());
  ASSERT_NE(model, nullptr) << moe_model_last_error(nullptr);
  double milliseconds = -1;
  EXPECT_EQ(moe_model_last_device_ms(model, &milliseconds), MOE_ERROR);
  EXPECT_STREQ(moe_model_last_error(model),
               "no device time: moe_model_run has not succeeded");
  float x[26], w[4] = {0, 0, 0, 0};
  for (int i = 0; i < 26; ++i)
    x[i] = static_cast<float>(i) - 6;
  const int64_t xShape[] = {2, 13}, wShape[] = {4};
  ASSERT_EQ(moe_model_bind_input(model, "x", MOE_DTYPE_F32, 2, xShape, x),
            MOE_OK)
      << moe_model_last_error(model);
  ASSERT_EQ(moe_model_bind_weight(model, "w", MOE_DTYPE_F32, 1, wShape, w),
            MOE_OK)
      << moe_model_last_error(model);
  ASSERT_EQ(moe_model_run(model), MOE_OK) << moe_model_last_error(model);
  ASSERT_EQ(moe_model_last_device_ms(model, &milliseconds), MOE_OK)
      << moe_model_last_error(model);
  EXPECT_EQ(milliseconds, 3.0);
  EXPECT_EQ(moe_model_last_device_ms(nullptr, &milliseconds), MOE_ERROR);
  moe_model_free(model);
  EXPECT_EQ(alive("allocations"), 0);
}

// MOE_CUDA_DEVICE picks the device a GPU artifact runs on; a device the
// driver lacks, or a value that is no number, fails in one line.
TEST_F(CudaDeviceTest, OpensTheDeviceMoeCudaDeviceNames) {
  configure(2, nullptr, 0);
  {
    test::ScopedEnvironment ordinal("MOE_CUDA_DEVICE", "1");
    Expected<std::unique_ptr<DeviceRunner>> runner = openFakeCudaRunner();
    ASSERT_TRUE(runner.ok()) << runner.message();
    EXPECT_NE(std::string(log()).find("cuDeviceGet(1)"), std::string::npos)
        << log();
  }
  {
    test::ScopedEnvironment ordinal("MOE_CUDA_DEVICE", "2");
    expectError(openFakeCudaRunner().status(),
                "no CUDA device 2: the driver reports 2");
  }
  {
    test::ScopedEnvironment ordinal("MOE_CUDA_DEVICE", "gpu1");
    expectError(openFakeCudaRunner().status(),
                "MOE_CUDA_DEVICE: expected a device number (0, 1, ...), got "
                "'gpu1'");
  }
  EXPECT_EQ(alive("contexts"), 0);
}
