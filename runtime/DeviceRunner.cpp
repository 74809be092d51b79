//===- DeviceRunner.cpp - Runs a GPU artifact's launches on a device ------===//

#include "runtime/DeviceRunner.h"

namespace moe {

Expected<std::unique_ptr<DeviceRunner>>
openDeviceRunner(DeviceKind kind, const void *binary, size_t bytes) {
  switch (kind) {
  case DeviceKind::OpenCL:
    return openOpenCLRunner(binary, bytes);
  case DeviceKind::Cuda:
    return openCudaRunner(binary, bytes);
  case DeviceKind::Cpu:
    break;
  }
  return Status::failure("a CPU artifact has no device program");
}

} // namespace moe
