//===- moe-compile.cpp - Compile a level-1 moe model ahead of time --------===//
//
//   moe-compile model.mlir --target=cpu [--plan-layout=auto|padded|sorted]
//               -o model.so
//
// Runs the `moe-to-cpu` pipeline and links a shared object with the
// artifact ABI (docs/artifact-abi.md) that moe-run and the C runtime load.
//
//===----------------------------------------------------------------------===//

#include "passes/CpuCodegen.h"
#include "passes/Passes.h"

#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

namespace cl = llvm::cl;

static cl::opt<std::string> inputPath(cl::Positional, cl::desc("<model.mlir>"),
                                      cl::Required);
static cl::opt<std::string> outputPath("o", cl::desc("output shared object"),
                                       cl::value_desc("model.so"),
                                       cl::Required);
static cl::opt<std::string> target("target",
                                   cl::desc("code to emit: cpu (the default)"),
                                   cl::init("cpu"));
static cl::opt<std::string> planLayout(
    "plan-layout",
    cl::desc("layout of sparse plans: auto (the default), padded (the "
             "capacity-padded slot table) or sorted (rows sorted by expert)"),
    cl::init("auto"));
static cl::opt<bool> emitLLVMDialect(
    "emit-mlir",
    cl::desc("write the LLVM-dialect module to -o instead of a shared object"),
    cl::init(false));

static int fail(const llvm::Twine &message) {
  llvm::errs() << "moe-compile: error: " << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv,
                              "moe-compile: compile a moe model to a CPU "
                              "shared object\n");
  if (target != "cpu")
    return fail("unknown target '" + target + "'; supported: cpu");
  if (!mlir::moe::isPlanLayout(planLayout))
    return fail("unknown plan layout '" + planLayout +
                "'; expected auto, padded or sorted");
  // Never overwrite what the user gave as input.
  if (llvm::sys::fs::equivalent(inputPath, outputPath))
    return fail("output '" + outputPath + "' is the input file");

  mlir::moe::ModelContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module = context.parse(inputPath);
  if (!module)
    return 1; // The parser printed the diagnostic with its location.
  if (failed(mlir::moe::lowerToLLVMDialect(*module, planLayout)))
    return 1;

  if (emitLLVMDialect) {
    std::string error;
    auto output = mlir::openOutputFile(outputPath, &error);
    if (!output)
      return fail(error);
    module->print(output->os());
    output->keep();
    return 0;
  }
  std::string error;
  if (failed(mlir::moe::emitSharedObject(*module, outputPath, error)))
    return fail(error);
  return 0;
}
