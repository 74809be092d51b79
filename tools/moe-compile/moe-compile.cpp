//===- moe-compile.cpp - Compile a level-1 moe model ahead of time --------===//
//
//   moe-compile model.mlir --target=cpu [--target-cpu=host|NAME]
//               [--plan-layout=auto|padded|sorted] [--checks] [--emit-mlir]
//               [--groups-per-call=N]
//               -o model.so|-
//
// Runs the `moe-to-cpu` pipeline and links a shared object with the
// artifact ABI (docs/artifact-abi.md) that moe-run and the C runtime load.
// The code is generated for the CPU --target-cpu names (the host's by
// default), and its signature records that CPU's features, so the runtime
// refuses a CPU that lacks one instead of crashing.
// MLIR's pass-manager, timing and printing options apply to the pipeline
// (`--mlir-print-ir-after-all`, `--mlir-timing`, ...).
//
// The output replaces its target only once it is complete (ToolOutput.h):
// a failed compile or write leaves an existing file as it was. Intermediate
// files go to a private temporary directory, removed afterwards. `-o -`
// writes the artifact (or the --emit-mlir text) to stdout.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/cpu/CpuCodegen.h"
#include "passes/cpu/CpuTarget.h"
#include "passes/gpu/DeviceArtifact.h"
#include "tools/common/ToolOutput.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/Timing.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

namespace cl = llvm::cl;

static cl::OptionCategory toolCategory("moe-compile options");

static cl::opt<std::string> inputPath(cl::Positional, cl::desc("<model.mlir>"),
                                      cl::Required, cl::cat(toolCategory));
static cl::opt<std::string>
    outputPath("o", cl::desc("output shared object ('-': stdout)"),
               cl::value_desc("model.so"), cl::Required, cl::cat(toolCategory));
static cl::opt<std::string> target(
    "target",
    cl::desc("code to emit: cpu (the default), cuda (NVIDIA GPU kernels, a "
             "fatbin for --arch; needs the CUDA toolkit through CUDA_ROOT) or "
             "opencl (the portable variant of the same kernels, SPIR bitcode; "
             "needs llvm-spirv-15)"),
    cl::init("cpu"), cl::cat(toolCategory));
static cl::opt<std::string>
    arch("arch",
         cl::desc("--target=cuda: the NVIDIA chip (sm_80, sm_90a, ...)"),
         cl::init("sm_80"), cl::cat(toolCategory));
static cl::opt<std::string> precision(
    "precision",
    cl::desc("GPU targets: the expert GEMMs' products: f32 (the default) or "
             "tf32 (tensor cores: f32 inputs read as tf32, f32 accumulation; "
             "the portable variant emulates them in f32)"),
    cl::init("f32"), cl::cat(toolCategory));
static cl::opt<int64_t> gpuThreads(
    "gpu-threads",
    cl::desc("GPU targets: threads per block of a grid (default 64, at most "
             "1024); the results do not depend on it"),
    cl::init(mlir::moe::GPUPipelineOptions().threads), cl::cat(toolCategory));
static cl::opt<int64_t> gpuSingleBlockThreads(
    "gpu-single-block-threads",
    cl::desc("GPU targets: threads of a launch of one block (routing between "
             "grids; default 256, at most 1024); the results do not depend "
             "on it"),
    cl::init(mlir::moe::GPUPipelineOptions().singleBlockThreads),
    cl::cat(toolCategory));
static cl::opt<std::string> targetCpu(
    "target-cpu",
    cl::desc("CPU to generate code for: host (the default: this one, with "
             "all its features) or an LLVM CPU name (x86-64, x86-64-v2, "
             "x86-64-v3, x86-64-v4, znver4, skylake-avx512, ...); the "
             "artifact runs only on CPUs with that CPU's features"),
    cl::init("host"), cl::cat(toolCategory));
static cl::opt<std::string> planLayout(
    "plan-layout",
    cl::desc("layout of sparse plans: auto (the default), padded (the "
             "capacity-padded slot table) or sorted (rows sorted by expert)"),
    cl::init("auto"), cl::cat(toolCategory));
static cl::opt<bool> checkAllIndices(
    "checks",
    cl::desc("check every index operand at run time, wherever it was "
             "computed, not only the index tensors the caller passes in "
             "(moe-insert-index-checks scope=all)"),
    cl::init(false), cl::cat(toolCategory));
static cl::opt<int64_t> groupsPerCall(
    "groups-per-call",
    cl::desc("for a model of a dynamic number of groups (tensor<?x...>): "
             "the routing groups one call of the entry computes (default 1); "
             "the runtime pads a last, partial call with copies of its last "
             "group; a model of static shapes ignores it"),
    cl::init(1), cl::cat(toolCategory));
static cl::opt<bool> emitLLVMDialect(
    "emit-mlir",
    cl::desc("write the LLVM-dialect module to -o instead of a shared object"),
    cl::init(false), cl::cat(toolCategory));

static int fail(const llvm::Twine &message) {
  llvm::errs() << "moe-compile: error: " << message << "\n";
  return 1;
}

/// Hides every option that is neither the tool's, MLIR's (`--mlir-*`) nor
/// generic (--help, --version): libLLVM registers hundreds for its back ends.
static void hideUnrelatedOptions() {
  // HideUnrelatedOptions would hide MLIR's too (they share LLVM's general
  // category), so theirs are put back as they were.
  std::vector<std::pair<cl::Option *, cl::OptionHidden>> mlirOptions;
  for (auto &entry : cl::getRegisteredOptions())
    if (entry.first.starts_with("mlir-"))
      mlirOptions.push_back(
          {entry.second, entry.second->getOptionHiddenFlag()});
  cl::HideUnrelatedOptions(toolCategory);
  for (auto [option, hidden] : mlirOptions)
    option->setHiddenFlag(hidden);
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // After InitLLVM, which installs its own handler for SIGXFSZ.
  moe::ignoreFileSizeLimitSignal();
  // First, so that --mlir-print-ir-after=PASS knows the pipeline's passes.
  mlir::moe::registerCpuCodegenPasses();
  mlir::registerPassManagerCLOptions();
  mlir::registerMLIRContextCLOptions();
  mlir::registerAsmPrinterCLOptions();
  mlir::registerDefaultTimingManagerCLOptions();
  hideUnrelatedOptions();
  cl::ParseCommandLineOptions(argc, argv,
                              "moe-compile: compile a moe model to a shared "
                              "object: CPU code, or GPU kernels "
                              "(--target=cuda|opencl)\n");
  bool gpu = target == "opencl" || target == "cuda";
  if (target != "cpu" && !gpu)
    return fail("unknown target '" + target +
                "'; supported: cpu, cuda, opencl");
  if (target == "cuda" && !llvm::StringRef(arch).starts_with("sm_"))
    return fail("unknown --arch '" + arch + "'; expected sm_80, sm_90a, ...");
  if (precision != "f32" && precision != "tf32")
    return fail("unknown --precision '" + precision +
                "'; expected f32 or tf32");
  if (precision != "f32" && !gpu)
    return fail("--precision=" + precision +
                " needs a GPU target (cuda or "
                "opencl); CPU products are f32");
  for (cl::opt<int64_t> *threads : {&gpuThreads, &gpuSingleBlockThreads}) {
    std::string name = ("--" + threads->ArgStr).str();
    if (threads->getNumOccurrences() && !gpu)
      return fail(name + " needs a GPU target (cuda or opencl)");
    if (*threads < 1 || *threads > mlir::moe::kMaxBlockThreads)
      return fail(name + " must be from 1 to " +
                  llvm::Twine(mlir::moe::kMaxBlockThreads) + ", got " +
                  llvm::Twine(int64_t(*threads)));
  }
  if (!mlir::moe::lookupTargetCpu(targetCpu))
    return fail(mlir::moe::unknownCpuMessage(targetCpu, "--target-cpu"));
  if (groupsPerCall < 1 || groupsPerCall > (1 << 20))
    return fail("--groups-per-call must be from 1 to 1048576, got " +
                llvm::Twine(groupsPerCall));
  if (!mlir::moe::isPlanLayout(planLayout))
    return fail("unknown plan layout '" + planLayout +
                "'; expected auto, padded or sorted");
  // Never overwrite what the user gave as input.
  if (llvm::sys::fs::equivalent(inputPath, outputPath))
    return fail("output '" + outputPath + "' is the input file");
  // A bad output path fails before the compile, not after it.
  if (outputPath != "-")
    if (moe::Status s = moe::checkOutputPath(outputPath); !s.ok())
      return fail("output " + moe::quote(outputPath) + ": " + s.message());

  mlir::moe::ModelContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module = context.parse(inputPath);
  if (!module)
    return 1; // The parser printed the diagnostic with its location.
  if (gpu) {
    if (checkAllIndices)
      return fail("--checks: run-time checks are not in GPU kernels yet");
    std::string error;
    mlir::moe::GPUPipelineOptions options;
    options.target = target;
    options.arch = arch;
    options.planLayout = planLayout;
    options.precision = precision;
    options.threads = gpuThreads;
    options.singleBlockThreads = gpuSingleBlockThreads;
    options.groupsPerCall = groupsPerCall;
    if (failed(mlir::moe::lowerToDeviceArtifact(*module, options, error)))
      return error.empty() ? 1 : fail(error);
  } else if (failed(mlir::moe::lowerToLLVMDialect(
                 *module, planLayout, checkAllIndices ? "all" : "arguments",
                 targetCpu, groupsPerCall))) {
    return 1;
  }

  std::string compileError, writeError;
  llvm::LogicalResult written =
      emitLLVMDialect ? moe::writeToolOutput(
                            outputPath, moe::FileMode::Regular,
                            [&](llvm::raw_ostream &os) {
                              module->print(os);
                              return llvm::success();
                            },
                            writeError)
                      : moe::writeToolOutput(
                            outputPath, moe::FileMode::Executable,
                            [&](llvm::raw_ostream &os) {
                              return mlir::moe::emitSharedObject(
                                  *module, os, compileError, targetCpu);
                            },
                            writeError);
  if (failed(written))
    return fail(writeError.empty() ? compileError : writeError);
  return 0;
}
