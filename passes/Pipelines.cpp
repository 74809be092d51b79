//===- Pipelines.cpp - The named moe pipelines ----------------------------===//
//
// `moe-to-cpu`: level-1 moe IR to the LLVM dialect with the artifact ABI
// (docs/artifact-abi.md). The pipeline is written as text so it reads like
// the `moe-opt` command line that reproduces any step of it.
//
//===----------------------------------------------------------------------===//

#include "passes/Pipelines.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <functional>

namespace mlir::moe {

/// `pipeline` with every placeholder replaced by its value.
static std::string
substitute(StringRef pipeline,
           ArrayRef<std::pair<StringRef, StringRef>> placeholders) {
  std::string text = pipeline.str();
  for (auto [placeholder, value] : placeholders)
    for (size_t at = text.find(placeholder); at != std::string::npos;
         at = text.find(placeholder, at + value.size()))
      text.replace(at, placeholder.size(), value);
  return text;
}

/// The passes, in order (`@LAYOUT@`: the plan layout, see
/// moe-materialize-plan; `@CHECKS@`: the scope of moe-insert-index-checks;
/// `@CPU@`: the target CPU, whose registers pick the contraction tiles and
/// which the signature records; `@GROUPS@`: the routing groups per call of
/// an entry of a dynamic number of groups).
/// An entry of a dynamic number of groups is compiled for one group first.
/// Routing and the plan layout next (target-neutral, on tensors), then
/// bufferization with results written into the caller's buffers, then loops,
/// the run-time checks (which need the CFG to return early) and the LLVM
/// dialect.
static constexpr llvm::StringLiteral kMoEToCPUPipeline =
    "func.func(moe-specialize-groups{groups-per-call=@GROUPS@}),"
    "moe-prepare-entry,"
    "moe-canonicalize,"
    "moe-expand-route,"
    "moe-materialize-plan{layout=@LAYOUT@},"
    "moe-fuse-experts,"
    "moe-insert-index-checks{scope=@CHECKS@},"
    "moe-lower-to-linalg{keep-gathers},"
    "convert-elementwise-to-linalg,"
    "canonicalize,cse,"
    "moe-cpu-distribute,"
    "moe-cpu-tile-contractions{target-cpu=@CPU@},"
    "canonicalize,cse,"
    "moe-lower-to-linalg,"
    "linalg-generalize-named-ops,"
    "moe-cpu-loop-order,"
    "one-shot-bufferize{bufferize-function-boundaries "
    "function-boundary-type-conversion=identity-layout-map "
    "allow-return-allocs-from-loops},"
    "buffer-results-to-out-params{hoist-static-allocs modify-public-functions},"
    "buffer-deallocation-pipeline,"
    "moe-expand-strided-copies,"
    "canonicalize,cse,"
    "moe-cpu-lower-vectors,"
    "convert-vector-to-scf{full-unroll=true},"
    "convert-linalg-to-loops,"
    "moe-cpu-outline-workgroups,"
    "convert-bufferization-to-memref,"
    "expand-strided-metadata,"
    "lower-affine,"
    "convert-scf-to-cf,"
    "moe-check-allocations,"
    "moe-lower-checks,"
    "moe-cpu-merge-workgroups,"
    "moe-cpu-approximate-math,"
    "convert-math-to-llvm,"
    "convert-math-to-libm,"
    "convert-vector-to-llvm,"
    "finalize-memref-to-llvm,"
    "convert-math-to-llvm,"
    "convert-arith-to-llvm,"
    "convert-index-to-llvm,"
    "convert-cf-to-llvm,"
    "convert-func-to-llvm,"
    "convert-ub-to-llvm,"
    "moe-lower-grid-launches,"
    "moe-emit-entry{target-cpu=@CPU@},"
    "reconcile-unrealized-casts";

/// `moe-to-gpu`: the same target-neutral steps down to linalg on tensors,
/// then the GPU's data path (the tiled grouped-GEMM kernels), element-wise
/// producers fused into their consumers (fewer launches), top-k's rounds
/// unrolled, bufferization into the caller's buffers, `scf.parallel` loops,
/// kernels (moe-gpu-form-kernels), their launches as data (moe.launches)
/// and the kernels' binary for `@TARGET@`.
static constexpr llvm::StringLiteral kMoEToGPUKernelsPipeline =
    "func.func(moe-specialize-groups{groups-per-call=@GROUPS@}),"
    "moe-prepare-entry,"
    "moe-canonicalize,"
    "moe-expand-route,"
    "moe-materialize-plan{layout=@LAYOUT@},"
    "moe-fuse-experts,"
    "moe-insert-index-checks{scope=@CHECKS@},"
    "moe-gpu-lower-data-path{precision=@PRECISION@},"
    "moe-lower-to-linalg,"
    "convert-elementwise-to-linalg,"
    "linalg-fuse-elementwise-ops,"
    "func.func(moe-gpu-unroll-rounds),"
    "canonicalize,cse,"
    "one-shot-bufferize{bufferize-function-boundaries "
    "function-boundary-type-conversion=identity-layout-map "
    "allow-return-allocs-from-loops},"
    "buffer-results-to-out-params{hoist-static-allocs modify-public-functions},"
    "canonicalize,cse,"
    "moe-gpu-parallel-dims-outer,"
    "convert-linalg-to-parallel-loops,"
    "canonicalize,"
    "moe-gpu-parallel-scatters,"
    "moe-gpu-form-kernels{threads=@THREADS@ "
    "single-block-threads=@SINGLE_BLOCK_THREADS@},"
    "gpu-kernel-outlining,"
    "moe-gpu-export-launches,"
    "gpu.module(fold-memref-alias-ops,lower-affine,arith-expand,canonicalize,"
    "cse),";

/// The portable variant: SPIR-V for OpenCL (run on the CPU by PoCL).
/// (Loops go through cf: SCFToSPIRV leaves the results of a loop that runs
/// no iteration undefined.) Tensor-core steps are emulated.
static constexpr llvm::StringLiteral kOpenCLKernelsPipeline =
    "gpu.module(moe-gpu-emulate-mma-sync,arith-expand,canonicalize,"
    "convert-scf-to-cf),"
    "spirv-attach-target{ver=v1.0 caps=Addresses,Int64,Int8,Float64,Kernel "
    "client_api=OpenCL},"
    "moe-gpu-to-spirv,"
    "gpu.module(spirv.module(spirv-lower-abi-attrs,spirv-update-vce)),"
    "gpu-module-to-binary{format=bin}";

/// The NVIDIA variant: NVVM (memrefs as bare pointers), PTX for `@ARCH@`
/// (`@PTX@`: the PTX version it needs), as PTX text, a cubin or a fatbin
/// (`@FORMAT@`; the last two run ptxas, found through CUDA_ROOT). Workgroup
/// memory becomes the kernels' workgroup attributions (shared memory).
static constexpr llvm::StringLiteral kNVVMKernelsPipeline =
    "moe-gpu-workgroup-attributions,"
    "gpu.module(convert-scf-to-cf,"
    "convert-nvgpu-to-nvvm,"
    "convert-gpu-to-nvvm{use-bare-ptr-memref-call-conv=true},"
    "reconcile-unrealized-casts),"
    "nvvm-attach-target{chip=@ARCH@ features=@PTX@ O=3},"
    "gpu-module-to-binary{format=@FORMAT@}";

LogicalResult buildMoEToGPUPipeline(OpPassManager &pm,
                                    const GPUPipelineOptions &options,
                                    llvm::raw_ostream &errors) {
  StringRef target = options.target, arch = options.arch,
            format = options.format;
  for (auto [name, value] :
       {std::pair<StringRef, int64_t>{"threads", options.threads},
        {"single-block-threads", options.singleBlockThreads}})
    if (value < 1 || value > kMaxBlockThreads) {
      errors << "moe-to-gpu: " << name << " must be from 1 to "
             << kMaxBlockThreads << ", got " << value;
      return failure();
    }
  std::string pipeline = kMoEToGPUKernelsPipeline.str();
  std::string ptx;
  if (target == "opencl") {
    pipeline += kOpenCLKernelsPipeline;
  } else if (target == "cuda") {
    if (!arch.starts_with("sm_")) {
      errors << "moe-to-gpu: unknown arch '" << arch
             << "' (expected sm_80, sm_90a, ...)";
      return failure();
    }
    if (format != "isa" && format != "bin" && format != "fatbin") {
      errors << "moe-to-gpu: unknown format '" << format
             << "' (expected isa, bin or fatbin)";
      return failure();
    }
    // sm_90 and later (wgmma, TMA) need PTX 8.0; earlier chips PTX 7.0.
    unsigned version = 0;
    arch.drop_front(3).take_while(llvm::isDigit).getAsInteger(10, version);
    ptx = version >= 90 ? "+ptx80" : "+ptx70";
    pipeline += kNVVMKernelsPipeline;
  } else {
    errors << "moe-to-gpu: unknown target '" << target
           << "' (expected opencl or cuda)";
    return failure();
  }
  pipeline = substitute(
      pipeline,
      {{"@LAYOUT@", options.planLayout},
       {"@CHECKS@", "arguments"},
       {"@THREADS@", std::to_string(options.threads)},
       {"@SINGLE_BLOCK_THREADS@", std::to_string(options.singleBlockThreads)},
       {"@GROUPS@", std::to_string(options.groupsPerCall)},
       {"@ARCH@", arch},
       {"@PTX@", ptx},
       {"@FORMAT@", format},
       {"@PRECISION@", options.precision}});
  return parsePassPipeline(pipeline, pm, errors);
}

LogicalResult buildMoEToCPUPipeline(OpPassManager &pm, StringRef planLayout,
                                    llvm::raw_ostream &errors,
                                    StringRef indexChecks, StringRef targetCpu,
                                    int64_t groupsPerCall) {
  std::string groups = std::to_string(groupsPerCall);
  std::string pipeline =
      substitute(kMoEToCPUPipeline, {{"@LAYOUT@", planLayout},
                                     {"@CHECKS@", indexChecks},
                                     {"@CPU@", targetCpu},
                                     {"@GROUPS@", groups}});
  return parsePassPipeline(pipeline, pm, errors);
}

namespace {
struct MoEToCPUOptions : PassPipelineOptions<MoEToCPUOptions> {
  Option<std::string> planLayout{
      *this, "plan-layout",
      llvm::cl::desc("layout of slot-table plans: auto, padded or sorted "
                     "(moe-materialize-plan's layout option)"),
      llvm::cl::init("auto")};
  Option<std::string> indexChecks{
      *this, "index-checks",
      llvm::cl::desc("index operands checked at run time: arguments (those "
                     "the caller passes in) or all "
                     "(moe-insert-index-checks' scope)"),
      llvm::cl::init("arguments")};
  Option<std::string> targetCpu{
      *this, "target-cpu",
      llvm::cl::desc("the CPU the code is generated for: host (the CPU "
                     "compiling) or an LLVM CPU name such as x86-64-v3 "
                     "(moe-cpu-tile-contractions' and moe-emit-entry's "
                     "target-cpu)"),
      llvm::cl::init("host")};
  Option<int64_t> groupsPerCall{
      *this, "groups-per-call",
      llvm::cl::desc("routing groups per call of an entry of a dynamic "
                     "number of groups (moe-specialize-groups' "
                     "groups-per-call)"),
      llvm::cl::init(1)};
};

struct MoEToGPUOptions : PassPipelineOptions<MoEToGPUOptions> {
  Option<std::string> target{
      *this, "target",
      llvm::cl::desc("the kernels' binary: opencl (SPIR-V, the portable "
                     "variant run on the CPU by PoCL) or cuda (NVVM)"),
      llvm::cl::init("opencl")};
  Option<std::string> arch{
      *this, "arch",
      llvm::cl::desc("the NVIDIA chip of target cuda (sm_80, sm_90a, ...)"),
      llvm::cl::init("sm_80")};
  Option<std::string> format{
      *this, "format",
      llvm::cl::desc("the binary of target cuda: isa (PTX), bin (cubin) or "
                     "fatbin (both run ptxas, found through CUDA_ROOT)"),
      llvm::cl::init("isa")};
  Option<std::string> planLayout{
      *this, "plan-layout",
      llvm::cl::desc("layout of slot-table plans: auto, padded or sorted"),
      llvm::cl::init("auto")};
  Option<std::string> precision{
      *this, "precision",
      llvm::cl::desc("the expert GEMMs' products: f32, or tf32 (tensor "
                     "cores, f32 inputs read as tf32, f32 accumulation)"),
      llvm::cl::init("f32")};
  Option<int64_t> threads{
      *this, "threads",
      llvm::cl::desc("threads per block of a grid (1 to 1024)"),
      llvm::cl::init(GPUPipelineOptions().threads)};
  Option<int64_t> singleBlockThreads{
      *this, "single-block-threads",
      llvm::cl::desc("threads of a launch of one block (1 to 1024)"),
      llvm::cl::init(GPUPipelineOptions().singleBlockThreads)};
  Option<int64_t> groupsPerCall{
      *this, "groups-per-call",
      llvm::cl::desc("routing groups per call of an entry of a dynamic "
                     "number of groups"),
      llvm::cl::init(1)};
};

/// Registers pipeline `name` whose `build` reports a bad option on its
/// stream: moe-opt prints the message and fails (PassPipelineRegistration's
/// builders cannot fail).
template <typename Options>
void registerFallibleMoEPipeline(
    StringRef name, StringRef description,
    std::function<LogicalResult(OpPassManager &, const Options &,
                                llvm::raw_ostream &)>
        build) {
  registerPassPipeline(
      name, description,
      [build](OpPassManager &pm, StringRef text,
              function_ref<LogicalResult(const Twine &)> errorHandler) {
        Options options;
        std::string message;
        llvm::raw_string_ostream errors(message);
        if (failed(options.parseFromString(text, errors)) ||
            failed(build(pm, options, errors)))
          return errorHandler(message);
        return success();
      },
      [](function_ref<void(const detail::PassOptions &)> optionHandler) {
        optionHandler(Options());
      });
}

} // namespace

void registerMoEPipelines() {
  registerFallibleMoEPipeline<MoEToGPUOptions>(
      "moe-to-gpu",
      "Compile level-1 moe IR to GPU kernels: a gpu.binary, the launches "
      "(moe.launches) and the workspace size (moe.workspace_bytes)",
      [](OpPassManager &pm, const MoEToGPUOptions &options,
         llvm::raw_ostream &errors) {
        GPUPipelineOptions gpu;
        gpu.target = options.target;
        gpu.arch = options.arch;
        gpu.format = options.format;
        gpu.planLayout = options.planLayout;
        gpu.precision = options.precision;
        gpu.threads = options.threads;
        gpu.singleBlockThreads = options.singleBlockThreads;
        gpu.groupsPerCall = options.groupsPerCall;
        return buildMoEToGPUPipeline(pm, gpu, errors);
      });
  registerFallibleMoEPipeline<MoEToCPUOptions>(
      "moe-to-cpu",
      "Compile level-1 moe IR to the LLVM dialect for the CPU, with the "
      "artifact ABI (moe_entry, moe_signature_json)",
      [](OpPassManager &pm, const MoEToCPUOptions &options,
         llvm::raw_ostream &errors) {
        return buildMoEToCPUPipeline(pm, options.planLayout, errors,
                                     options.indexChecks, options.targetCpu,
                                     options.groupsPerCall);
      });
}

} // namespace mlir::moe
