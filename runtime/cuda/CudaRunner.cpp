//===- CudaRunner.cpp - GPU artifacts on a CUDA device --------------------===//
//
// A GPU artifact built with `moe-compile --target=cuda` (a fatbin) run on
// CUDA device 0 through the driver API loaded at run time (CudaDevice).
//
//===----------------------------------------------------------------------===//

#include "runtime/DeviceRunner.h"
#include "runtime/cuda/CudaDevice.h"

#include <map>
#include <optional>

namespace moe {
namespace {

class CudaRunner final : public DeviceRunner {
public:
  CudaRunner(std::shared_ptr<CudaDevice> device, CudaModule module)
      : device(std::move(device)), module(std::move(module)) {}

  std::string description() const override { return device->description(); }

  Status run(const Signature &signature,
             const std::vector<const HostTensor *> &args,
             std::vector<HostTensor> &results) override;

  std::optional<double> lastLaunchMilliseconds() const override {
    return launchMilliseconds;
  }

private:
  /// The device buffer `index` of `bytes` (made on first use).
  Expected<const CudaBuffer *> buffer(size_t index, size_t bytes);

  std::shared_ptr<CudaDevice> device;
  CudaModule module;
  std::map<std::string, cuda::Function> kernels;
  std::vector<std::optional<CudaBuffer>> buffers;
  /// The weight each buffer holds (not uploaded again while it is bound).
  std::vector<const HostTensor *> uploaded;
  /// Events around the launches (made by the first run) and their time.
  std::optional<CudaEvent> launchStart, launchEnd;
  std::optional<double> launchMilliseconds;
};

Expected<const CudaBuffer *> CudaRunner::buffer(size_t index, size_t bytes) {
  if (index >= buffers.size()) {
    buffers.resize(index + 1);
    uploaded.resize(index + 1, nullptr);
  }
  size_t size = bytes ? bytes : 1;
  if (buffers[index] && buffers[index]->size() == size)
    return &*buffers[index];
  buffers[index].reset();
  Expected<CudaBuffer> made = device->allocate(size);
  if (!made)
    return made.status();
  buffers[index].emplace(std::move(*made));
  uploaded[index] = nullptr;
  return &*buffers[index];
}

Status CudaRunner::run(const Signature &signature,
                       const std::vector<const HostTensor *> &args,
                       std::vector<HostTensor> &results) {
  if (Status s = device->makeCurrent(); !s.ok())
    return s;
  for (size_t i = 0; i < args.size(); ++i) {
    Expected<const CudaBuffer *> memory = buffer(i, args[i]->byteSize());
    if (!memory)
      return memory.status();
    if (signature.args[i].role == ArgRole::Weight && uploaded[i] == args[i])
      continue;
    if (args[i]->byteSize())
      if (Status s = device->copyToDevice(**memory, args[i]->bytes(),
                                          args[i]->byteSize());
          !s.ok())
        return s;
    uploaded[i] = signature.args[i].role == ArgRole::Weight ? args[i] : nullptr;
  }
  size_t first = args.size();
  for (size_t r = 0; r < results.size(); ++r)
    if (Expected<const CudaBuffer *> memory =
            buffer(first + r, results[r].byteSize());
        !memory)
      return memory.status();
  if (Expected<const CudaBuffer *> memory =
          buffer(first + results.size(),
                 static_cast<size_t>(signature.workspaceBytes));
      !memory)
    return memory.status();

  if (!launchStart) {
    Expected<CudaEvent> start = device->createEvent();
    if (!start)
      return start.status();
    Expected<CudaEvent> end = device->createEvent();
    if (!end)
      return end.status();
    launchStart.emplace(std::move(*start));
    launchEnd.emplace(std::move(*end));
  }
  launchMilliseconds.reset();
  if (Status s = launchStart->record(); !s.ok())
    return s;
  for (const Launch &launch : signature.launches) {
    auto it = kernels.find(launch.kernel);
    if (it == kernels.end()) {
      Expected<cuda::Function> function = module.function(launch.kernel);
      if (!function)
        return function.status();
      it = kernels.emplace(launch.kernel, *function).first;
    }
    // Bare-pointer kernels: each buffer a device pointer, scalars by value.
    std::vector<cuda::DevicePtr> pointers(launch.args.size());
    std::vector<void *> parameters;
    for (size_t a = 0; a < launch.args.size(); ++a) {
      const LaunchArg &arg = launch.args[a];
      if (arg.isBuffer) {
        pointers[a] = buffers[arg.index]->address();
        parameters.push_back(&pointers[a]);
      } else {
        parameters.push_back(const_cast<uint64_t *>(&arg.bits));
      }
    }
    CudaLaunch shape;
    shape.grid = launch.grid;
    shape.block = launch.block;
    if (Status s = device->launch(it->second, shape, parameters); !s.ok())
      return s.withPrefix("kernel " + quote(launch.kernel) + ": ");
  }
  if (Status s = launchEnd->record(); !s.ok())
    return s;
  Expected<float> elapsed = launchEnd->millisecondsSince(*launchStart);
  if (!elapsed)
    return elapsed.status();
  launchMilliseconds = *elapsed;
  for (size_t r = 0; r < results.size(); ++r)
    if (results[r].byteSize())
      if (Status s = device->copyToHost(results[r].bytes(), *buffers[first + r],
                                        results[r].byteSize());
          !s.ok())
        return s;
  return Status::success();
}

} // namespace

Expected<std::unique_ptr<DeviceRunner>> openCudaRunner(const void *binary,
                                                       size_t bytes) {
  (void)bytes; // a fatbin carries its size
  Expected<std::shared_ptr<CudaDevice>> device = CudaDevice::open();
  if (!device)
    return device.status();
  Expected<CudaModule> module = (*device)->loadModule(binary);
  if (!module)
    return module.status();
  return std::unique_ptr<DeviceRunner>(
      new CudaRunner(std::move(*device), std::move(*module)));
}

} // namespace moe
