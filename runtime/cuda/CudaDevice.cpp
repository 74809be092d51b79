//===- CudaDevice.cpp - One CUDA device and what lives on it --------------===//

#include "runtime/cuda/CudaDevice.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <utility>

using namespace moe;

//===----------------------------------------------------------------------===//
// Objects on the device: each releases its handle once, when destroyed or
// assigned over; a moved-from object holds nothing.
//===----------------------------------------------------------------------===//

#define MOE_DEVICE_OBJECT_MOVES(Class, member)                                 \
  Class::Class(Class &&other) noexcept                                         \
      : device(std::move(other.device)),                                       \
        member(std::exchange(other.member, {})) {}                             \
  Class &Class::operator=(Class &&other) noexcept {                            \
    if (this != &other) {                                                      \
      release();                                                               \
      device = std::move(other.device);                                        \
      member = std::exchange(other.member, {});                                \
    }                                                                          \
    return *this;                                                              \
  }                                                                            \
  Class::~Class() { release(); }

MOE_DEVICE_OBJECT_MOVES(CudaModule, module)
MOE_DEVICE_OBJECT_MOVES(CudaStream, stream)
MOE_DEVICE_OBJECT_MOVES(CudaEvent, event)
#undef MOE_DEVICE_OBJECT_MOVES

CudaBuffer::CudaBuffer(CudaBuffer &&other) noexcept
    : device(std::move(other.device)), pointer(std::exchange(other.pointer, 0)),
      bytes(std::exchange(other.bytes, 0)) {}

CudaBuffer &CudaBuffer::operator=(CudaBuffer &&other) noexcept {
  if (this != &other) {
    release();
    device = std::move(other.device);
    pointer = std::exchange(other.pointer, 0);
    bytes = std::exchange(other.bytes, 0);
  }
  return *this;
}

CudaBuffer::~CudaBuffer() { release(); }

// Releasing cannot report failure (it runs in destructors); the driver only
// fails it for a context already destroyed, which the objects prevent by
// holding the device.
void CudaBuffer::release() {
  if (device && pointer) {
    (void)device->makeCurrent();
    device->loaded->api().cuMemFree(pointer);
  }
  pointer = 0;
}

void CudaModule::release() {
  if (device && module) {
    (void)device->makeCurrent();
    device->loaded->api().cuModuleUnload(module);
  }
  module = nullptr;
}

void CudaStream::release() {
  if (device && stream)
    device->loaded->api().cuStreamDestroy(stream);
  stream = nullptr;
}

void CudaEvent::release() {
  if (device && event)
    device->loaded->api().cuEventDestroy(event);
  event = nullptr;
}

Expected<cuda::Function> CudaModule::function(const std::string &name) const {
  cuda::Function function = nullptr;
  if (Status s = device->check(device->loaded->api().cuModuleGetFunction(
                                   &function, module, name.c_str()),
                               "cuModuleGetFunction");
      !s.ok())
    return s.withPrefix("kernel " + quote(name) + ": ");
  return function;
}

Status CudaStream::synchronize() const {
  return device->check(device->loaded->api().cuStreamSynchronize(stream),
                       "cuStreamSynchronize");
}

Status CudaEvent::record(cuda::Stream stream) const {
  return device->check(device->loaded->api().cuEventRecord(event, stream),
                       "cuEventRecord");
}

Expected<float> CudaEvent::millisecondsSince(const CudaEvent &start) const {
  const CudaApi &api = device->loaded->api();
  if (Status s =
          device->check(api.cuEventSynchronize(event), "cuEventSynchronize");
      !s.ok())
    return s;
  float milliseconds = 0;
  if (Status s = device->check(
          api.cuEventElapsedTime(&milliseconds, start.event, event),
          "cuEventElapsedTime");
      !s.ok())
    return s;
  return milliseconds;
}

//===----------------------------------------------------------------------===//
// The device
//===----------------------------------------------------------------------===//

Expected<int> moe::selectedCudaDevice() {
  const char *text = std::getenv("MOE_CUDA_DEVICE");
  if (!text || !*text)
    return 0;
  char *end = nullptr;
  errno = 0;
  long ordinal = std::strtol(text, &end, 10);
  if (*end || errno || ordinal < 0 || ordinal > INT_MAX)
    return Status::failure(
        "MOE_CUDA_DEVICE: expected a device number (0, 1, ...), got '", text,
        "'");
  return static_cast<int>(ordinal);
}

Expected<std::shared_ptr<CudaDevice>> CudaDevice::open(int ordinal) {
  Expected<std::shared_ptr<CudaDriver>> driver = CudaDriver::load();
  if (!driver)
    return driver.status();
  return open(std::move(*driver), ordinal);
}

Expected<std::shared_ptr<CudaDevice>>
CudaDevice::open(std::shared_ptr<const CudaDriver> driver, int ordinal) {
  const CudaApi &api = driver->api();
  if (Status s = driver->check(api.cuInit(0), "cuInit"); !s.ok())
    return s;
  int count = 0;
  if (Status s =
          driver->check(api.cuDeviceGetCount(&count), "cuDeviceGetCount");
      !s.ok())
    return s;
  if (count == 0)
    return Status::failure("no CUDA device found: the driver reports none");
  if (ordinal < 0 || ordinal >= count)
    return Status::failure("no CUDA device ", ordinal, ": the driver reports ",
                           count);
  cuda::Device device = 0;
  if (Status s =
          driver->check(api.cuDeviceGet(&device, ordinal), "cuDeviceGet");
      !s.ok())
    return s;
  char name[256] = {};
  int major = 0, minor = 0;
  if (Status s =
          driver->check(api.cuDeviceGetName(name, sizeof(name) - 1, device),
                        "cuDeviceGetName");
      !s.ok())
    return s;
  if (Status s =
          driver->check(api.cuDeviceGetAttribute(
                            &major, cuda::kComputeCapabilityMajor, device),
                        "cuDeviceGetAttribute");
      !s.ok())
    return s;
  if (Status s =
          driver->check(api.cuDeviceGetAttribute(
                            &minor, cuda::kComputeCapabilityMinor, device),
                        "cuDeviceGetAttribute");
      !s.ok())
    return s;
  cuda::Context context = nullptr;
  if (Status s = driver->check(api.cuDevicePrimaryCtxRetain(&context, device),
                               "cuDevicePrimaryCtxRetain");
      !s.ok())
    return s;
  // From here the context is released by the device's destructor.
  std::shared_ptr<CudaDevice> opened(
      new CudaDevice(std::move(driver), ordinal, device, context));
  opened->deviceName = name;
  opened->capability = major * 10 + minor;
  if (Status s = opened->makeCurrent(); !s.ok())
    return s;
  return opened;
}

CudaDevice::~CudaDevice() { loaded->api().cuDevicePrimaryCtxRelease(device); }

std::string CudaDevice::description() const {
  return "CUDA device " + std::to_string(index) + ": " + deviceName + " (sm_" +
         std::to_string(capability) + ")";
}

Status CudaDevice::makeCurrent() const {
  return check(loaded->api().cuCtxSetCurrent(context), "cuCtxSetCurrent");
}

Expected<CudaBuffer> CudaDevice::allocate(size_t bytes) {
  if (Status s = makeCurrent(); !s.ok())
    return s;
  cuda::DevicePtr pointer = 0;
  // A buffer of no bytes holds no memory (the driver refuses to allocate 0).
  if (bytes != 0)
    if (Status s =
            check(loaded->api().cuMemAlloc(&pointer, bytes), "cuMemAlloc");
        !s.ok())
      return s.withPrefix("allocating " + std::to_string(bytes) +
                          " bytes on the device: ");
  return CudaBuffer(shared_from_this(), pointer, bytes);
}

Status CudaDevice::copyToDevice(const CudaBuffer &target, const void *source,
                                size_t bytes) const {
  if (bytes > target.size())
    return Status::failure("copying ", bytes, " bytes into a device buffer of ",
                           target.size());
  if (bytes == 0)
    return Status::success();
  if (Status s = makeCurrent(); !s.ok())
    return s;
  return check(loaded->api().cuMemcpyHtoD(target.address(), source, bytes),
               "cuMemcpyHtoD");
}

Status CudaDevice::copyToHost(void *target, const CudaBuffer &source,
                              size_t bytes) const {
  if (bytes > source.size())
    return Status::failure("copying ", bytes,
                           " bytes out of a device buffer of ", source.size());
  if (bytes == 0)
    return Status::success();
  if (Status s = makeCurrent(); !s.ok())
    return s;
  return check(loaded->api().cuMemcpyDtoH(target, source.address(), bytes),
               "cuMemcpyDtoH");
}

Expected<CudaModule> CudaDevice::loadModule(const void *image) {
  if (Status s = makeCurrent(); !s.ok())
    return s;
  cuda::Module module = nullptr;
  if (Status s = check(loaded->api().cuModuleLoadData(&module, image),
                       "cuModuleLoadData");
      !s.ok())
    return s;
  return CudaModule(shared_from_this(), module);
}

Expected<CudaStream> CudaDevice::createStream() {
  if (Status s = makeCurrent(); !s.ok())
    return s;
  cuda::Stream stream = nullptr;
  if (Status s =
          check(loaded->api().cuStreamCreate(&stream, 0), "cuStreamCreate");
      !s.ok())
    return s;
  return CudaStream(shared_from_this(), stream);
}

Expected<CudaEvent> CudaDevice::createEvent() {
  if (Status s = makeCurrent(); !s.ok())
    return s;
  cuda::Event event = nullptr;
  if (Status s = check(loaded->api().cuEventCreate(&event, 0), "cuEventCreate");
      !s.ok())
    return s;
  return CudaEvent(shared_from_this(), event);
}

Status CudaDevice::launch(cuda::Function kernel, const CudaLaunch &shape,
                          std::vector<void *> &parameters,
                          cuda::Stream stream) const {
  for (unsigned extent : shape.grid)
    if (extent == 0)
      return Status::failure("a kernel launch with an empty grid");
  if (Status s = makeCurrent(); !s.ok())
    return s;
  return check(loaded->api().cuLaunchKernel(
                   kernel, shape.grid[0], shape.grid[1], shape.grid[2],
                   shape.block[0], shape.block[1], shape.block[2],
                   shape.sharedMemoryBytes, stream,
                   parameters.empty() ? nullptr : parameters.data(), nullptr),
               "cuLaunchKernel");
}
