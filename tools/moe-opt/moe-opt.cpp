//===- moe-opt.cpp - mlir-opt with the moe dialect and passes -------------===//
//
// Parses, verifies, transforms and prints IR with the moe dialect, every
// upstream dialect and pass, and the moe passes (`moe-opt --help` lists them).
//
//===----------------------------------------------------------------------===//

#include "dialect/MoEOps.h"
#include "passes/Passes.h"
#include "passes/Pipelines.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::moe::registerMoEPasses();
  mlir::moe::registerMoEPipelines();

  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  registry.insert<mlir::moe::MoEDialect>();

  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "moe-opt: the moe dialect optimizer driver\n", registry));
}
