//===- DeviceRunner.cpp - Runs a GPU artifact's launches on a device ------===//

#include "runtime/DeviceRunner.h"

namespace moe {

Status DeviceRunner::buffer(size_t index, size_t bytes) {
  if (index >= bufferBytes.size()) {
    bufferBytes.resize(index + 1, 0);
    uploaded.resize(index + 1, nullptr);
  }
  size_t size = bytes ? bytes : 1;
  if (bufferBytes[index] == size)
    return Status::success();
  uploaded[index] = nullptr;
  bufferBytes[index] = 0;
  if (Status s = allocate(index, size); !s.ok())
    return s;
  bufferBytes[index] = size;
  return Status::success();
}

Status DeviceRunner::run(const Signature &signature,
                         const std::vector<const HostTensor *> &args,
                         std::vector<HostTensor> &results) {
  if (Status s = begin(); !s.ok())
    return s;
  // Buffers: the arguments, the results, the workspace.
  for (size_t i = 0; i < args.size(); ++i) {
    if (Status s = buffer(i, args[i]->byteSize()); !s.ok())
      return s;
    bool weight = signature.args[i].role == ArgRole::Weight;
    if (weight && uploaded[i] == args[i])
      continue;
    if (args[i]->byteSize())
      if (Status s = upload(i, args[i]->bytes(), args[i]->byteSize()); !s.ok())
        return s;
    uploaded[i] = weight ? args[i] : nullptr;
  }
  size_t first = args.size();
  for (size_t r = 0; r < results.size(); ++r)
    if (Status s = buffer(first + r, results[r].byteSize()); !s.ok())
      return s;
  if (Status s = buffer(first + results.size(),
                        static_cast<size_t>(signature.workspaceBytes));
      !s.ok())
    return s;
  if (Status s = launchAll(signature.launches); !s.ok())
    return s;
  for (size_t r = 0; r < results.size(); ++r)
    if (results[r].byteSize())
      if (Status s =
              download(results[r].bytes(), first + r, results[r].byteSize());
          !s.ok())
        return s;
  return Status::success();
}

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
