//===- DeviceArtifact.h - GPU artifacts: signature, launches, binary -*- C++
//-*-===//
//
// A GPU artifact (artifact ABI version 6, docs/artifact-abi.md) is a shared
// object holding data only: `moe_signature_json` (the CPU artifact's schema
// plus `device`, `launches` and `workspace_bytes`) and the kernels' binary,
// `moe_device_binary` of `moe_device_binary_size` bytes. The runtime loads
// the binary on the device and carries out the launches in order.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_GPU_DEVICEARTIFACT_H
#define MOE_PASSES_GPU_DEVICEARTIFACT_H

#include "passes/Pipelines.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"

#include <string>

namespace mlir::moe {

/// Compiles level-1 `module` with moe-to-gpu for `options.target`
/// ("opencl": SPIR bitcode, converted from SPIR-V by llvm-spirv-15 found on
/// PATH; "cuda": a fatbin for `options.arch`, which needs the CUDA toolkit
/// through CUDA_ROOT; `options.format` is ignored) and replaces its body
/// with the artifact's two symbols in the LLVM dialect, ready for
/// emitSharedObject. Diagnostics of the compile are emitted on the module;
/// other failures (a bad option, a missing tool) set `error`.
LogicalResult lowerToDeviceArtifact(ModuleOp module,
                                    const GPUPipelineOptions &options,
                                    std::string &error);

} // namespace mlir::moe

#endif // MOE_PASSES_GPU_DEVICEARTIFACT_H
