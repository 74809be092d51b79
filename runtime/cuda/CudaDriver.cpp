//===- CudaDriver.cpp - The CUDA driver API, loaded at run time -----------===//

#include "runtime/cuda/CudaDriver.h"

#include <cstdlib>
#include <dlfcn.h>

using namespace moe;

namespace {

/// Resolves the entry point `symbol` into `slot`.
template <typename Fn>
Status resolve(void *handle, const std::string &library, const char *symbol,
               Fn &slot) {
  void *address = ::dlsym(handle, symbol);
  if (!address)
    return Status::failure("the CUDA driver ", quote(library),
                           " has no entry point ", quote(symbol));
  slot = reinterpret_cast<Fn>(address);
  return Status::success();
}

} // namespace

Expected<std::shared_ptr<CudaDriver>> CudaDriver::load() {
  const char *override = std::getenv("MOE_CUDA_DRIVER");
  std::string library =
      override && *override ? std::string(override) : kDefaultLibrary;
  ::dlerror();
  void *handle = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *reason = ::dlerror();
    return Status::failure("no CUDA driver found: ",
                           reason ? reason : library.c_str());
  }
  std::shared_ptr<CudaDriver> driver(new CudaDriver(handle, library));
  CudaApi &api = driver->entries;
  // The symbols cuda.h maps these names to (`_v2` where it does).
#define MOE_RESOLVE(field, symbol)                                             \
  if (Status s = resolve(handle, library, symbol, api.field); !s.ok())         \
    return s;
  MOE_RESOLVE(cuInit, "cuInit")
  MOE_RESOLVE(cuDriverGetVersion, "cuDriverGetVersion")
  MOE_RESOLVE(cuGetErrorName, "cuGetErrorName")
  MOE_RESOLVE(cuGetErrorString, "cuGetErrorString")
  MOE_RESOLVE(cuDeviceGetCount, "cuDeviceGetCount")
  MOE_RESOLVE(cuDeviceGet, "cuDeviceGet")
  MOE_RESOLVE(cuDeviceGetName, "cuDeviceGetName")
  MOE_RESOLVE(cuDeviceGetAttribute, "cuDeviceGetAttribute")
  MOE_RESOLVE(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain")
  MOE_RESOLVE(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2")
  MOE_RESOLVE(cuCtxSetCurrent, "cuCtxSetCurrent")
  MOE_RESOLVE(cuMemAlloc, "cuMemAlloc_v2")
  MOE_RESOLVE(cuMemFree, "cuMemFree_v2")
  MOE_RESOLVE(cuMemcpyHtoD, "cuMemcpyHtoD_v2")
  MOE_RESOLVE(cuMemcpyDtoH, "cuMemcpyDtoH_v2")
  MOE_RESOLVE(cuModuleLoadData, "cuModuleLoadData")
  MOE_RESOLVE(cuModuleUnload, "cuModuleUnload")
  MOE_RESOLVE(cuModuleGetFunction, "cuModuleGetFunction")
  MOE_RESOLVE(cuLaunchKernel, "cuLaunchKernel")
  MOE_RESOLVE(cuStreamCreate, "cuStreamCreate")
  MOE_RESOLVE(cuStreamDestroy, "cuStreamDestroy_v2")
  MOE_RESOLVE(cuStreamSynchronize, "cuStreamSynchronize")
  MOE_RESOLVE(cuEventCreate, "cuEventCreate")
  MOE_RESOLVE(cuEventDestroy, "cuEventDestroy_v2")
  MOE_RESOLVE(cuEventRecord, "cuEventRecord")
  MOE_RESOLVE(cuEventSynchronize, "cuEventSynchronize")
  MOE_RESOLVE(cuEventElapsedTime, "cuEventElapsedTime")
#undef MOE_RESOLVE
  return driver;
}

CudaDriver::~CudaDriver() { ::dlclose(handle); }

Status CudaDriver::check(cuda::Result result, const char *call) const {
  if (result == 0)
    return Status::success();
  const char *name = nullptr, *text = nullptr;
  if (entries.cuGetErrorName(result, &name) != 0 || !name)
    name = nullptr;
  if (entries.cuGetErrorString(result, &text) != 0 || !text)
    text = nullptr;
  std::string what =
      name ? std::string(name) : "CUDA error " + std::to_string(result);
  if (text)
    what += std::string(" (") + text + ")";
  return Status::failure(call, " failed: ", what);
}
