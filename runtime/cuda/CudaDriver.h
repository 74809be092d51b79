//===- CudaDriver.h - The CUDA driver API, loaded at run time ---*- C++ -*-===//
//
// The runtime talks to NVIDIA GPUs through the CUDA driver API, which it
// loads with dlopen("libcuda.so.1") when a CUDA device is first asked for:
// the project builds, and everything but the GPU runs, where no CUDA driver
// is installed. Only the calls the runtime makes are resolved, with the
// driver's own types declared here (no CUDA headers are needed to build).
//
//   Expected<std::shared_ptr<CudaDriver>> driver = CudaDriver::load();
//   if (!driver) return driver.status();   // "no CUDA driver found: ..."
//   if (Status s = (*driver)->check((*driver)->api().cuInit(0), "cuInit");
//       !s.ok()) return s;                 // "cuInit failed: CUDA_ERROR_..."
//
// MOE_CUDA_DRIVER names another library to load instead (the tests use a
// fake driver that records the calls it gets).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_RUNTIME_CUDA_CUDADRIVER_H
#define MOE_RUNTIME_CUDA_CUDADRIVER_H

#include "runtime/Status.h"

#include <cstddef>
#include <memory>
#include <string>

namespace moe {

/// The driver API's types, as its ABI defines them.
namespace cuda {
using Result = int; // CUresult; 0 is CUDA_SUCCESS
using Device = int; // CUdevice
using Context = struct CUctx_st *;
using Module = struct CUmod_st *;
using Function = struct CUfunc_st *;
using Stream = struct CUstream_st *;
using Event = struct CUevent_st *;
using DevicePtr = unsigned long long; // CUdeviceptr

/// CUdevice_attribute values the runtime reads.
inline constexpr int kComputeCapabilityMajor = 75;
inline constexpr int kComputeCapabilityMinor = 76;
} // namespace cuda

/// The entry points of the driver API the runtime calls (bound to the
/// symbols cuda.h maps them to: `_v2` where it does).
struct CudaApi {
  cuda::Result (*cuInit)(unsigned flags);
  cuda::Result (*cuDriverGetVersion)(int *version);
  cuda::Result (*cuGetErrorName)(cuda::Result error, const char **name);
  cuda::Result (*cuGetErrorString)(cuda::Result error, const char **text);
  cuda::Result (*cuDeviceGetCount)(int *count);
  cuda::Result (*cuDeviceGet)(cuda::Device *device, int ordinal);
  cuda::Result (*cuDeviceGetName)(char *name, int length, cuda::Device device);
  cuda::Result (*cuDeviceGetAttribute)(int *value, int attribute,
                                       cuda::Device device);
  cuda::Result (*cuDevicePrimaryCtxRetain)(cuda::Context *context,
                                           cuda::Device device);
  cuda::Result (*cuDevicePrimaryCtxRelease)(cuda::Device device);
  cuda::Result (*cuCtxSetCurrent)(cuda::Context context);
  cuda::Result (*cuMemAlloc)(cuda::DevicePtr *pointer, size_t bytes);
  cuda::Result (*cuMemFree)(cuda::DevicePtr pointer);
  cuda::Result (*cuMemcpyHtoD)(cuda::DevicePtr target, const void *source,
                               size_t bytes);
  cuda::Result (*cuMemcpyDtoH)(void *target, cuda::DevicePtr source,
                               size_t bytes);
  cuda::Result (*cuModuleLoadData)(cuda::Module *module, const void *image);
  cuda::Result (*cuModuleUnload)(cuda::Module module);
  cuda::Result (*cuModuleGetFunction)(cuda::Function *function,
                                      cuda::Module module, const char *name);
  cuda::Result (*cuLaunchKernel)(cuda::Function function, unsigned gridX,
                                 unsigned gridY, unsigned gridZ,
                                 unsigned blockX, unsigned blockY,
                                 unsigned blockZ, unsigned sharedMemoryBytes,
                                 cuda::Stream stream, void **parameters,
                                 void **extra);
  cuda::Result (*cuStreamCreate)(cuda::Stream *stream, unsigned flags);
  cuda::Result (*cuStreamDestroy)(cuda::Stream stream);
  cuda::Result (*cuStreamSynchronize)(cuda::Stream stream);
  cuda::Result (*cuEventCreate)(cuda::Event *event, unsigned flags);
  cuda::Result (*cuEventDestroy)(cuda::Event event);
  cuda::Result (*cuEventRecord)(cuda::Event event, cuda::Stream stream);
  cuda::Result (*cuEventSynchronize)(cuda::Event event);
  cuda::Result (*cuEventElapsedTime)(float *milliseconds, cuda::Event start,
                                     cuda::Event end);
};

/// The loaded driver library and its entry points; unloaded with the last
/// reference.
class CudaDriver {
public:
  /// The library loaded when MOE_CUDA_DRIVER is not set.
  static constexpr const char *kDefaultLibrary = "libcuda.so.1";

  /// Loads the driver (MOE_CUDA_DRIVER, else libcuda.so.1, searched for as
  /// the dynamic linker does) and resolves every entry point. Fails in one
  /// line: "no CUDA driver found: libcuda.so.1: cannot open shared object
  /// file: No such file or directory", or naming the entry point missing.
  static Expected<std::shared_ptr<CudaDriver>> load();

  CudaDriver(const CudaDriver &) = delete;
  CudaDriver &operator=(const CudaDriver &) = delete;
  ~CudaDriver();

  const CudaApi &api() const { return entries; }
  /// The path the driver was loaded from (MOE_CUDA_DRIVER or the default).
  const std::string &library() const { return path; }

  /// Success for CUDA_SUCCESS; otherwise "`call` failed: CUDA_ERROR_NAME
  /// (the driver's description)", in one line.
  Status check(cuda::Result result, const char *call) const;

private:
  CudaDriver(void *handle, std::string path)
      : handle(handle), path(std::move(path)) {}

  void *handle;
  std::string path;
  CudaApi entries{};
};

} // namespace moe

#endif // MOE_RUNTIME_CUDA_CUDADRIVER_H
