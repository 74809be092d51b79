//===- Pipelines.h - The named moe pipelines --------------------*- C++ -*-===//

#ifndef MOE_PASSES_PIPELINES_H
#define MOE_PASSES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::moe {

/// Adds the `moe-to-cpu` passes to `pm` (anchored on builtin.module), with
/// `planLayout` (auto, padded or sorted) for moe-materialize-plan,
/// `indexChecks` (arguments or all) for moe-insert-index-checks and
/// `targetCpu` (host or an LLVM CPU name, passes/cpu/CpuTarget.h) for
/// moe-cpu-tile-contractions and moe-emit-entry, `groupsPerCall` for
/// moe-specialize-groups. The upstream passes it names must be registered
/// (registerAllPasses).
LogicalResult buildMoEToCPUPipeline(OpPassManager &pm, StringRef planLayout,
                                    llvm::raw_ostream &errors,
                                    StringRef indexChecks = "arguments",
                                    StringRef targetCpu = "host",
                                    int64_t groupsPerCall = 1);

/// Registers `moe-to-cpu` for moe-opt's command line.
/// `moe-to-gpu`: level-1 moe IR to GPU kernels for `target` (opencl: SPIR-V
/// run on the CPU by PoCL; cuda: NVVM for `arch` as PTX, cubin or fatbin),
/// their launches (module attribute moe.launches) and workspace size
/// (moe.workspace_bytes).
LogicalResult
buildMoEToGPUPipeline(OpPassManager &pm, StringRef target, StringRef planLayout,
                      llvm::raw_ostream &errors, int64_t threads = 64,
                      int64_t groupsPerCall = 1, StringRef arch = "sm_80",
                      StringRef format = "isa", StringRef precision = "f32");

void registerMoEPipelines();

} // namespace mlir::moe

#endif // MOE_PASSES_PIPELINES_H
