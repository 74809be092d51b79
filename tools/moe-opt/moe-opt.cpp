//===- moe-opt.cpp - mlir-opt with the moe dialect and passes -------------===//
//
// Parses, verifies, transforms and prints IR with the moe dialect, every
// upstream dialect and pass, and the moe passes (`moe-opt --help` lists them),
// with the translations to LLVM IR that serialize GPU kernels (PTX, cubin).
//
// Unlike mlir-opt, the output replaces its target only when MlirOptMain
// succeeded (ToolOutput.h): IR that does not verify leaves an existing output
// as it was, so `moe-opt x.mlir -o x.mlir` rewrites x.mlir in place when it is
// fine and never truncates or deletes it when it is not.
//
//===----------------------------------------------------------------------===//

#include "dialect/MoEOps.h"
#include "passes/Passes.h"
#include "passes/Pipelines.h"
#include "tools/common/ToolOutput.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // After InitLLVM, which installs its own handler for SIGXFSZ.
  moe::ignoreFileSizeLimitSignal();
  mlir::registerAllPasses();
  mlir::moe::registerMoEPasses();
  mlir::moe::registerMoEPipelines();

  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  // gpu-module-to-binary translates kernels to LLVM IR (NVVM: PTX, cubin).
  mlir::registerAllToLLVMIRTranslations(registry);
  registry.insert<mlir::moe::MoEDialect>();

  auto [inputPath, outputPath] = mlir::registerAndParseCLIOptions(
      argc, argv, "moe-opt: the moe dialect optimizer driver\n", registry);
  mlir::MlirOptMainConfig config =
      mlir::MlirOptMainConfig::createFromCLOptions();

  // A bad output path fails before the passes run, not after them.
  if (outputPath != "-")
    if (moe::Status s = moe::checkOutputPath(outputPath); !s.ok()) {
      llvm::errs() << "moe-opt: error: output " << moe::quote(outputPath)
                   << ": " << s.message() << "\n";
      return EXIT_FAILURE;
    }
  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> input =
      mlir::openInputFile(inputPath, &error);
  if (!input) {
    llvm::errs() << "moe-opt: error: " << error << "\n";
    return EXIT_FAILURE;
  }
  // The input is in memory: writing the output over it is safe.
  if (failed(moe::writeToolOutput(
          outputPath, moe::FileMode::Regular,
          [&](llvm::raw_ostream &os) {
            return mlir::MlirOptMain(os, std::move(input), registry, config);
          },
          error))) {
    if (!error.empty())
      llvm::errs() << "moe-opt: error: " << error << "\n";
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}
