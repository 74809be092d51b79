//===- CudaDevice.h - One CUDA device and what lives on it ------*- C++ -*-===//
//
// A CUDA device opened through the driver API (CudaDriver.h): its primary
// context, device memory, loaded modules (cubin/fatbin/PTX images),
// kernel launches, streams and events. Every object releases what it holds
// when destroyed (memory, modules, streams, events, and last the context),
// and every failure is one line naming the driver call that failed:
//
//   Expected<std::shared_ptr<CudaDevice>> device = CudaDevice::open();
//   Expected<CudaBuffer> x = (*device)->allocate(bytes);
//   Expected<CudaModule> module = (*device)->loadModule(fatbin);
//   Expected<cuda::Function> kernel = module->function("layer_kernel_0");
//   (*device)->launch(*kernel, {{4, 1, 1}, {128, 1, 1}, 0}, params);
//
// Nothing is thread-safe beyond what the driver guarantees; the context is
// made current on the thread that opens the device and on each call that
// needs it.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_RUNTIME_CUDA_CUDADEVICE_H
#define MOE_RUNTIME_CUDA_CUDADEVICE_H

#include "runtime/cuda/CudaDriver.h"

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace moe {

/// The device GPU artifacts run on: the number the environment variable
/// MOE_CUDA_DEVICE holds, 0 when it is unset; fails in one line on a value
/// that is no device number.
Expected<int> selectedCudaDevice();

class CudaDevice;

/// Device memory, freed when destroyed.
class CudaBuffer {
public:
  CudaBuffer(CudaBuffer &&other) noexcept;
  CudaBuffer &operator=(CudaBuffer &&other) noexcept;
  ~CudaBuffer();

  cuda::DevicePtr address() const { return pointer; }
  size_t size() const { return bytes; }

private:
  friend class CudaDevice;
  CudaBuffer(std::shared_ptr<CudaDevice> device, cuda::DevicePtr pointer,
             size_t bytes)
      : device(std::move(device)), pointer(pointer), bytes(bytes) {}
  void release();

  std::shared_ptr<CudaDevice> device;
  cuda::DevicePtr pointer = 0;
  size_t bytes = 0;
};

/// A loaded module (a cubin, fatbin or PTX image), unloaded when destroyed.
class CudaModule {
public:
  CudaModule(CudaModule &&other) noexcept;
  CudaModule &operator=(CudaModule &&other) noexcept;
  ~CudaModule();

  /// The kernel `name`; fails with "kernel 'name': cuModuleGetFunction
  /// failed: CUDA_ERROR_NOT_FOUND (...)".
  Expected<cuda::Function> function(const std::string &name) const;

private:
  friend class CudaDevice;
  CudaModule(std::shared_ptr<CudaDevice> device, cuda::Module module)
      : device(std::move(device)), module(module) {}
  void release();

  std::shared_ptr<CudaDevice> device;
  cuda::Module module = nullptr;
};

/// A stream, or an event on one; destroyed with the object.
class CudaStream {
public:
  CudaStream(CudaStream &&other) noexcept;
  CudaStream &operator=(CudaStream &&other) noexcept;
  ~CudaStream();

  cuda::Stream handle() const { return stream; }
  Status synchronize() const;

private:
  friend class CudaDevice;
  CudaStream(std::shared_ptr<CudaDevice> device, cuda::Stream stream)
      : device(std::move(device)), stream(stream) {}
  void release();

  std::shared_ptr<CudaDevice> device;
  cuda::Stream stream = nullptr;
};

class CudaEvent {
public:
  CudaEvent(CudaEvent &&other) noexcept;
  CudaEvent &operator=(CudaEvent &&other) noexcept;
  ~CudaEvent();

  /// Records the event on `stream` (null: the default stream).
  Status record(cuda::Stream stream = nullptr) const;
  /// Milliseconds from `start` to this event, both recorded; waits for it.
  Expected<float> millisecondsSince(const CudaEvent &start) const;

private:
  friend class CudaDevice;
  CudaEvent(std::shared_ptr<CudaDevice> device, cuda::Event event)
      : device(std::move(device)), event(event) {}
  void release();

  std::shared_ptr<CudaDevice> device;
  cuda::Event event = nullptr;
};

/// The grid and blocks of a kernel launch.
struct CudaLaunch {
  std::array<unsigned, 3> grid = {1, 1, 1};
  std::array<unsigned, 3> block = {1, 1, 1};
  unsigned sharedMemoryBytes = 0;
};

class CudaDevice : public std::enable_shared_from_this<CudaDevice> {
public:
  /// Initializes the driver and opens device `ordinal` with its primary
  /// context. Fails in one line: no driver ("no CUDA driver found: ..."), no
  /// device ("no CUDA device found: the driver reports none"), an ordinal past
  /// the devices ("no CUDA device 2: the driver reports 1"), or the failing
  /// call.
  static Expected<std::shared_ptr<CudaDevice>> open(int ordinal = 0);
  /// The same with a driver already loaded.
  static Expected<std::shared_ptr<CudaDevice>>
  open(std::shared_ptr<const CudaDriver> driver, int ordinal = 0);

  CudaDevice(const CudaDevice &) = delete;
  CudaDevice &operator=(const CudaDevice &) = delete;
  /// Releases the primary context.
  ~CudaDevice();

  const CudaDriver &driver() const { return *loaded; }
  int ordinal() const { return index; }
  const std::string &name() const { return deviceName; }
  /// The compute capability as major * 10 + minor (90 for sm_90).
  int computeCapability() const { return capability; }
  /// "CUDA device 0: NVIDIA H100 80GB HBM3 (sm_90)".
  std::string description() const;

  Expected<CudaBuffer> allocate(size_t bytes);
  Status copyToDevice(const CudaBuffer &target, const void *source,
                      size_t bytes) const;
  Status copyToHost(void *target, const CudaBuffer &source, size_t bytes) const;

  /// Loads a cubin, fatbin or NUL-terminated PTX image.
  Expected<CudaModule> loadModule(const void *image);
  Expected<CudaStream> createStream();
  Expected<CudaEvent> createEvent();

  /// Launches `kernel` with `parameters` (pointers to each argument's
  /// value, as cuLaunchKernel takes them) on `stream` (null: the default).
  Status launch(cuda::Function kernel, const CudaLaunch &shape,
                std::vector<void *> &parameters,
                cuda::Stream stream = nullptr) const;

  /// Makes the device's context current on the calling thread.
  Status makeCurrent() const;

private:
  CudaDevice(std::shared_ptr<const CudaDriver> driver, int ordinal,
             cuda::Device device, cuda::Context context)
      : loaded(std::move(driver)), index(ordinal), device(device),
        context(context) {}
  /// `result` of `call` as a Status (CudaDriver::check).
  Status check(cuda::Result result, const char *call) const {
    return loaded->check(result, call);
  }

  friend class CudaBuffer;
  friend class CudaModule;
  friend class CudaStream;
  friend class CudaEvent;

  std::shared_ptr<const CudaDriver> loaded;
  int index;
  cuda::Device device;
  cuda::Context context;
  std::string deviceName;
  int capability = 0;
};

} // namespace moe

#endif // MOE_RUNTIME_CUDA_CUDADEVICE_H
