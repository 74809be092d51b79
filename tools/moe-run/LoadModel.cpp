//===- LoadModel.cpp - How moe-run turns a path into a Model --------------===//

#include "LoadModel.h"

using namespace moe;

namespace {
bool hasSuffix(const std::string &text, const std::string &suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// The JIT hook. Wiring it in means: parse `path`, run the moe-compile CPU
/// pipeline, build an mlir::ExecutionEngine, look up the entry and its
/// signature string, and return Model::fromEntry(signature, entry, engine),
/// the engine being the keep-alive handle (docs/artifact-abi.md).
Expected<Model> loadMlirModel(const std::string &path) {
  return Status::failure("JIT of .mlir is not built in yet");
}
} // namespace

Expected<Model> moe::loadModelFromPath(const std::string &path) {
  if (hasSuffix(path, ".mlir"))
    return loadMlirModel(path);
  return Model::load(path);
}
