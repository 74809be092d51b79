//===- OpenCLRunner.cpp - GPU artifacts on an OpenCL device ---------------===//
//
// The portable variant of a GPU artifact (SPIR bitcode, `moe-compile
// --target=opencl`) run on the first OpenCL device: on a machine without a
// GPU, PoCL's CPU device, with real workgroups and barriers. The OpenCL
// library is loaded at run time (`dlopen("libOpenCL.so.1")`, or
// MOE_OPENCL_LIBRARY), so the runtime builds and runs without it.
//
//===----------------------------------------------------------------------===//

#include "runtime/DeviceRunner.h"

#include <dlfcn.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>

namespace moe {
namespace {

// The OpenCL API's types and constants this runner uses (CL/cl.h).
using cl_int = int32_t;
using cl_uint = uint32_t;
using cl_ulong = uint64_t;
using Handle = void *;
constexpr cl_ulong kDeviceTypeAll = 0xFFFFFFFF;
constexpr cl_uint kDeviceName = 0x102B;
constexpr cl_uint kProgramBuildLog = 0x1183;
constexpr cl_ulong kMemReadWrite = 1 << 0;

struct OpenCLApi {
  cl_int (*getPlatformIDs)(cl_uint, Handle *, cl_uint *);
  cl_int (*getDeviceIDs)(Handle, cl_ulong, cl_uint, Handle *, cl_uint *);
  cl_int (*getDeviceInfo)(Handle, cl_uint, size_t, void *, size_t *);
  Handle (*createContext)(const intptr_t *, cl_uint, const Handle *, void *,
                          void *, cl_int *);
  Handle (*createCommandQueue)(Handle, Handle, cl_ulong, cl_int *);
  Handle (*createProgramWithBinary)(Handle, cl_uint, const Handle *,
                                    const size_t *, const unsigned char **,
                                    cl_int *, cl_int *);
  cl_int (*buildProgram)(Handle, cl_uint, const Handle *, const char *, void *,
                         void *);
  cl_int (*getProgramBuildInfo)(Handle, Handle, cl_uint, size_t, void *,
                                size_t *);
  Handle (*createKernel)(Handle, const char *, cl_int *);
  Handle (*createBuffer)(Handle, cl_ulong, size_t, void *, cl_int *);
  cl_int (*setKernelArg)(Handle, cl_uint, size_t, const void *);
  cl_int (*enqueueNDRangeKernel)(Handle, Handle, cl_uint, const size_t *,
                                 const size_t *, const size_t *, cl_uint,
                                 const Handle *, Handle *);
  cl_int (*enqueueWriteBuffer)(Handle, Handle, cl_uint, size_t, size_t,
                               const void *, cl_uint, const Handle *, Handle *);
  cl_int (*enqueueReadBuffer)(Handle, Handle, cl_uint, size_t, size_t, void *,
                              cl_uint, const Handle *, Handle *);
  cl_int (*finish)(Handle);
  cl_int (*releaseMemObject)(Handle);
  cl_int (*releaseKernel)(Handle);
  cl_int (*releaseProgram)(Handle);
  cl_int (*releaseCommandQueue)(Handle);
  cl_int (*releaseContext)(Handle);
};

Status clFailure(const char *call, cl_int code) {
  return Status::failure("OpenCL: ", call, " failed with error ", code);
}

class OpenCLRunner final : public DeviceRunner {
public:
  ~OpenCLRunner() override {
    for (auto &[name, kernel] : kernels)
      api.releaseKernel(kernel);
    for (Handle buffer : buffers)
      if (buffer)
        api.releaseMemObject(buffer);
    if (program)
      api.releaseProgram(program);
    if (queue)
      api.releaseCommandQueue(queue);
    if (context)
      api.releaseContext(context);
    // The library stays loaded: OpenCL implementations keep threads that
    // outlive their objects.
  }

  static Expected<std::unique_ptr<DeviceRunner>> open(const void *binary,
                                                      size_t bytes);

  std::string description() const override {
    return "OpenCL device: " + deviceName;
  }

protected:
  Status allocate(size_t index, size_t bytes) override;
  Status upload(size_t index, const void *data, size_t bytes) override;
  Status launchAll(const std::vector<Launch> &launches) override;
  Status download(void *data, size_t index, size_t bytes) override;

private:
  OpenCLRunner() = default;
  Expected<Handle> kernel(const std::string &name);

  OpenCLApi api{};
  Handle device = nullptr, context = nullptr, queue = nullptr,
         program = nullptr;
  std::string deviceName;
  std::map<std::string, Handle> kernels;
  std::vector<Handle> buffers;
};

template <typename F> bool resolve(void *library, const char *name, F &fn) {
  fn = reinterpret_cast<F>(dlsym(library, name));
  return fn != nullptr;
}

Expected<std::unique_ptr<DeviceRunner>> OpenCLRunner::open(const void *binary,
                                                           size_t bytes) {
  const char *path = std::getenv("MOE_OPENCL_LIBRARY");
  void *library =
      dlopen(path && *path ? path : "libOpenCL.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!library)
    return Status::failure("no OpenCL device: ", dlerror(),
                           " (scripts/bootstrap.sh installs "
                           "ocl-icd-libopencl1 and pocl-opencl-icd)");
  std::unique_ptr<OpenCLRunner> runner(new OpenCLRunner());
  OpenCLApi &api = runner->api;
  bool ok =
      resolve(library, "clGetPlatformIDs", api.getPlatformIDs) &&
      resolve(library, "clGetDeviceIDs", api.getDeviceIDs) &&
      resolve(library, "clGetDeviceInfo", api.getDeviceInfo) &&
      resolve(library, "clCreateContext", api.createContext) &&
      resolve(library, "clCreateCommandQueue", api.createCommandQueue) &&
      resolve(library, "clCreateProgramWithBinary",
              api.createProgramWithBinary) &&
      resolve(library, "clBuildProgram", api.buildProgram) &&
      resolve(library, "clGetProgramBuildInfo", api.getProgramBuildInfo) &&
      resolve(library, "clCreateKernel", api.createKernel) &&
      resolve(library, "clCreateBuffer", api.createBuffer) &&
      resolve(library, "clSetKernelArg", api.setKernelArg) &&
      resolve(library, "clEnqueueNDRangeKernel", api.enqueueNDRangeKernel) &&
      resolve(library, "clEnqueueWriteBuffer", api.enqueueWriteBuffer) &&
      resolve(library, "clEnqueueReadBuffer", api.enqueueReadBuffer) &&
      resolve(library, "clFinish", api.finish) &&
      resolve(library, "clReleaseMemObject", api.releaseMemObject) &&
      resolve(library, "clReleaseKernel", api.releaseKernel) &&
      resolve(library, "clReleaseProgram", api.releaseProgram) &&
      resolve(library, "clReleaseCommandQueue", api.releaseCommandQueue) &&
      resolve(library, "clReleaseContext", api.releaseContext);
  if (!ok)
    return Status::failure("no OpenCL device: the OpenCL library lacks ",
                           dlerror());
  cl_uint count = 0;
  Handle platform = nullptr;
  if (api.getPlatformIDs(1, &platform, &count) != 0 || count == 0)
    return Status::failure("no OpenCL device: no OpenCL platform "
                           "(scripts/bootstrap.sh installs pocl-opencl-icd)");
  if (api.getDeviceIDs(platform, kDeviceTypeAll, 1, &runner->device, &count) !=
          0 ||
      count == 0)
    return Status::failure("no OpenCL device: the platform has none");
  char name[256] = {};
  api.getDeviceInfo(runner->device, kDeviceName, sizeof(name) - 1, name,
                    nullptr);
  runner->deviceName = name;
  cl_int error = 0;
  runner->context =
      api.createContext(nullptr, 1, &runner->device, nullptr, nullptr, &error);
  if (!runner->context)
    return clFailure("clCreateContext", error);
  runner->queue =
      api.createCommandQueue(runner->context, runner->device, 0, &error);
  if (!runner->queue)
    return clFailure("clCreateCommandQueue", error);
  const auto *image = static_cast<const unsigned char *>(binary);
  cl_int status = 0;
  runner->program = api.createProgramWithBinary(
      runner->context, 1, &runner->device, &bytes, &image, &status, &error);
  if (!runner->program)
    return clFailure("clCreateProgramWithBinary", error);
  if (cl_int built = api.buildProgram(runner->program, 1, &runner->device,
                                      "-x spir", nullptr, nullptr);
      built != 0) {
    size_t size = 0;
    api.getProgramBuildInfo(runner->program, runner->device, kProgramBuildLog,
                            0, nullptr, &size);
    std::string log(size, '\0');
    api.getProgramBuildInfo(runner->program, runner->device, kProgramBuildLog,
                            size, log.data(), nullptr);
    std::string firstLine = log.substr(0, log.find('\n'));
    return Status::failure("OpenCL: clBuildProgram failed with error ", built,
                           firstLine.empty() ? "" : ": ", firstLine);
  }
  return std::unique_ptr<DeviceRunner>(std::move(runner));
}

Status OpenCLRunner::allocate(size_t index, size_t bytes) {
  if (index >= buffers.size())
    buffers.resize(index + 1, nullptr);
  if (buffers[index])
    api.releaseMemObject(buffers[index]);
  cl_int error = 0;
  buffers[index] =
      api.createBuffer(context, kMemReadWrite, bytes, nullptr, &error);
  if (!buffers[index])
    return clFailure("clCreateBuffer", error);
  return Status::success();
}

Status OpenCLRunner::upload(size_t index, const void *data, size_t bytes) {
  if (cl_int e = api.enqueueWriteBuffer(queue, buffers[index], 1, 0, bytes,
                                        data, 0, nullptr, nullptr))
    return clFailure("clEnqueueWriteBuffer", e);
  return Status::success();
}

Status OpenCLRunner::download(void *data, size_t index, size_t bytes) {
  // Blocking, on the in-order queue: after every launch.
  if (cl_int e = api.enqueueReadBuffer(queue, buffers[index], 1, 0, bytes, data,
                                       0, nullptr, nullptr))
    return clFailure("clEnqueueReadBuffer", e);
  return Status::success();
}

Expected<Handle> OpenCLRunner::kernel(const std::string &name) {
  if (auto it = kernels.find(name); it != kernels.end())
    return it->second;
  cl_int error = 0;
  Handle handle = api.createKernel(program, name.c_str(), &error);
  if (!handle)
    return Status::failure("OpenCL: clCreateKernel(", quote(name),
                           ") failed with error ", error);
  kernels[name] = handle;
  return handle;
}

Status OpenCLRunner::launchAll(const std::vector<Launch> &launches) {
  for (const Launch &launch : launches) {
    Expected<Handle> handle = kernel(launch.kernel);
    if (!handle)
      return handle.status();
    for (size_t a = 0; a < launch.args.size(); ++a) {
      const LaunchArg &arg = launch.args[a];
      cl_int e = arg.isBuffer
                     ? api.setKernelArg(*handle, a, sizeof(Handle),
                                        &buffers[arg.index])
                     : api.setKernelArg(*handle, a, arg.bytes, &arg.bits);
      if (e)
        return Status::failure("OpenCL: clSetKernelArg(", quote(launch.kernel),
                               ", ", a, ") failed with error ", e);
    }
    size_t global[3], local[3];
    for (int d = 0; d < 3; ++d) {
      local[d] = launch.block[d];
      global[d] = size_t(launch.grid[d]) * launch.block[d];
    }
    if (cl_int e = api.enqueueNDRangeKernel(queue, *handle, 3, nullptr, global,
                                            local, 0, nullptr, nullptr))
      return Status::failure("OpenCL: clEnqueueNDRangeKernel(",
                             quote(launch.kernel), ") failed with error ", e);
  }
  if (cl_int e = api.finish(queue))
    return clFailure("clFinish", e);
  return Status::success();
}

} // namespace

Expected<std::unique_ptr<DeviceRunner>> openOpenCLRunner(const void *binary,
                                                         size_t bytes) {
  return OpenCLRunner::open(binary, bytes);
}

} // namespace moe
