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
void registerMoEPipelines();

} // namespace mlir::moe

#endif // MOE_PASSES_PIPELINES_H
