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

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"

#include <string>

namespace mlir::moe {

/// Compiles level-1 `module` with moe-to-gpu for `target` ("opencl": SPIR
/// bitcode, converted from SPIR-V by llvm-spirv-15 found on PATH; "cuda": a
/// fatbin for `arch`, which needs the CUDA toolkit through CUDA_ROOT) and
/// replaces its body with the artifact's two symbols in the LLVM dialect,
/// ready for emitSharedObject. Diagnostics of the compile are emitted on
/// the module; other failures (a missing tool) set `error`. `precision` is
/// the expert GEMMs' (moe-to-gpu's precision: f32 or tf32).
LogicalResult lowerToDeviceArtifact(ModuleOp module, StringRef target,
                                    StringRef arch, StringRef planLayout,
                                    int64_t groupsPerCall, StringRef precision,
                                    std::string &error);

} // namespace mlir::moe

#endif // MOE_PASSES_GPU_DEVICEARTIFACT_H
