//===- LoadModel.cpp - How moe-run turns a path into a Model --------------===//

#include "LoadModel.h"

#include "passes/cpu/CpuCodegen.h"

using namespace moe;

namespace {
bool hasSuffix(const std::string &text, const std::string &suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// The JIT: parse `path`, run the moe-to-cpu pipeline, compile it in memory
/// and make a Model of the entry, the compiled code being the keep-alive
/// handle (docs/artifact-abi.md). Compiler diagnostics (with their IR
/// locations) go to stderr as the MLIR context prints them.
Expected<Model> loadMlirModel(const std::string &path) {
  mlir::moe::ModelContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module = context.parse(path);
  if (!module)
    return Status::failure("model '" + path + "' does not parse");
  if (failed(mlir::moe::lowerToLLVMDialect(*module)))
    return Status::failure("model '" + path + "' does not compile");
  std::string error;
  std::shared_ptr<mlir::moe::JitArtifact> artifact =
      mlir::moe::compileJit(*module, error);
  if (!artifact)
    return Status::failure("model '" + path + "': JIT failed: " + error);
  return Model::fromEntry(artifact->signatureJson(), artifact->entry(),
                          artifact);
}
} // namespace

Expected<Model> moe::loadModelFromPath(const std::string &path) {
  if (hasSuffix(path, ".mlir"))
    return loadMlirModel(path);
  return Model::load(path);
}
