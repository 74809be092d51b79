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

/// The choices of `moe-to-gpu`.
struct GPUPipelineOptions {
  /// The kernels' binary: opencl (SPIR-V, the portable variant run on the
  /// CPU by PoCL) or cuda (NVVM for `arch` as PTX, cubin or fatbin:
  /// `format` isa, bin or fatbin).
  std::string target = "opencl";
  std::string arch = "sm_80";
  std::string format = "isa";
  /// moe-materialize-plan's layout: auto, padded or sorted.
  std::string planLayout = "auto";
  /// The expert GEMMs' products: f32, or tf32 (tensor cores).
  std::string precision = "f32";
  /// Threads per block of a grid, and of a launch of one block
  /// (moe-gpu-form-kernels' threads and single-block-threads): 1 to
  /// kMaxBlockThreads.
  int64_t threads = 64;
  int64_t singleBlockThreads = 256;
  /// moe-specialize-groups' groups-per-call.
  int64_t groupsPerCall = 1;
};

/// The most threads a block may have (CUDA's limit).
inline constexpr int64_t kMaxBlockThreads = 1024;

/// `moe-to-gpu`: level-1 moe IR to GPU kernels for `options.target`, their
/// launches (module attribute moe.launches) and workspace size
/// (moe.workspace_bytes). A bad option is reported on `errors`.
LogicalResult buildMoEToGPUPipeline(OpPassManager &pm,
                                    const GPUPipelineOptions &options,
                                    llvm::raw_ostream &errors);

/// Registers `moe-to-cpu` and `moe-to-gpu` for moe-opt's command line (a
/// bad option is an error, not a crash).
void registerMoEPipelines();

} // namespace mlir::moe

#endif // MOE_PASSES_PIPELINES_H
