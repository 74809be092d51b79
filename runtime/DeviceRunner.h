//===- DeviceRunner.h - Runs a GPU artifact's launches on a device -*- C++
//-*-===//
//
// A GPU artifact (ABI 6, docs/artifact-abi.md) holds its kernels' binary and
// its host program as data: the signature's `launches`, kernels to launch in
// order over device buffers (the entry's arguments, its results, then a
// workspace of `workspace_bytes`). A DeviceRunner carries that program out
// on one device: it loads the binary once, keeps one device buffer per
// argument, result and the workspace, uploads weights when they change and
// inputs every run, launches, and copies the results back.
//
//   Expected<std::unique_ptr<DeviceRunner>> runner =
//       openDeviceRunner(DeviceKind::OpenCL, binary, size);
//   Status s = (*runner)->run(signature, boundTensors, results);
//
// Failures are one line naming the device API call that failed.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_RUNTIME_DEVICERUNNER_H
#define MOE_RUNTIME_DEVICERUNNER_H

#include "runtime/Signature.h"
#include "runtime/Status.h"
#include "runtime/Tensor.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace moe {

class DeviceRunner {
public:
  virtual ~DeviceRunner() = default;
  /// The device, in words ("OpenCL device: pthread-x86_64-...").
  virtual std::string description() const = 0;
  /// Runs `signature`'s launches with `args` (one per signature argument,
  /// all bound) and writes `results` (allocated by the caller, one per
  /// signature result): device buffers made once per size, a weight
  /// uploaded again only when another tensor is bound, inputs every run.
  Status run(const Signature &signature,
             const std::vector<const HostTensor *> &args,
             std::vector<HostTensor> &results);
  /// The device time of the last run's launches, where the device measures
  /// it (CUDA events from before the first launch to after the last);
  /// copies are not included.
  virtual std::optional<double> lastLaunchMilliseconds() const {
    return std::nullopt;
  }

protected:
  /// What each device does for run(). Before the copies and launches.
  virtual Status begin() { return Status::success(); }
  /// Makes buffer `index` `bytes` (at least 1) long, releasing a previous one.
  virtual Status allocate(size_t index, size_t bytes) = 0;
  virtual Status upload(size_t index, const void *data, size_t bytes) = 0;
  /// Carries the launches out in order over the buffers.
  virtual Status launchAll(const std::vector<Launch> &launches) = 0;
  /// Copies buffer `index` back once every launch has finished.
  virtual Status download(void *data, size_t index, size_t bytes) = 0;

private:
  /// Buffer `index` of `bytes` (made, or made anew, when its size differs).
  Status buffer(size_t index, size_t bytes);

  std::vector<size_t> bufferBytes;
  /// The weight each buffer holds (not uploaded again while it is bound).
  std::vector<const HostTensor *> uploaded;
};

/// A runner of `kind` (Cuda or OpenCL) with the kernels of `binary` loaded.
/// Fails in one line: no driver or device ("no OpenCL device: ..."), or the
/// binary does not load.
Expected<std::unique_ptr<DeviceRunner>>
openDeviceRunner(DeviceKind kind, const void *binary, size_t bytes);

/// The implementations (runtime/opencl/OpenCLRunner.cpp,
/// runtime/cuda/CudaRunner.cpp). The CUDA runner opens device
/// `MOE_CUDA_DEVICE` (a number; 0 when unset) and fails in one line on a
/// value that is none or a device the driver does not have.
Expected<std::unique_ptr<DeviceRunner>> openOpenCLRunner(const void *binary,
                                                         size_t bytes);
Expected<std::unique_ptr<DeviceRunner>> openCudaRunner(const void *binary,
                                                       size_t bytes);

} // namespace moe

#endif // MOE_RUNTIME_DEVICERUNNER_H
