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

  std::optional<double> lastLaunchMilliseconds() const override {
    return launchMilliseconds;
  }

protected:
  Status begin() override { return device->makeCurrent(); }
  Status allocate(size_t index, size_t bytes) override;
  Status upload(size_t index, const void *data, size_t bytes) override {
    return device->copyToDevice(*buffers[index], data, bytes);
  }
  Status launchAll(const std::vector<Launch> &launches) override;
  Status download(void *data, size_t index, size_t bytes) override {
    return device->copyToHost(data, *buffers[index], bytes);
  }

private:
  std::shared_ptr<CudaDevice> device;
  CudaModule module;
  std::map<std::string, cuda::Function> kernels;
  std::vector<std::optional<CudaBuffer>> buffers;
  /// Events around the launches (made by the first run) and their time.
  std::optional<CudaEvent> launchStart, launchEnd;
  std::optional<double> launchMilliseconds;
};

Status CudaRunner::allocate(size_t index, size_t bytes) {
  if (index >= buffers.size())
    buffers.resize(index + 1);
  buffers[index].reset();
  Expected<CudaBuffer> made = device->allocate(bytes);
  if (!made)
    return made.status();
  buffers[index].emplace(std::move(*made));
  return Status::success();
}

Status CudaRunner::launchAll(const std::vector<Launch> &launches) {
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
  for (const Launch &launch : launches) {
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
  return Status::success();
}

} // namespace

Expected<std::unique_ptr<DeviceRunner>> openCudaRunner(const void *binary,
                                                       size_t bytes) {
  (void)bytes; // a fatbin carries its size
  Expected<int> ordinal = selectedCudaDevice();
  if (!ordinal)
    return ordinal.status();
  Expected<std::shared_ptr<CudaDevice>> device = CudaDevice::open(*ordinal);
  if (!device)
    return device.status();
  Expected<CudaModule> module = (*device)->loadModule(binary);
  if (!module)
    return module.status();
  return std::unique_ptr<DeviceRunner>(
      new CudaRunner(std::move(*device), std::move(*module)));
}

} // namespace moe
