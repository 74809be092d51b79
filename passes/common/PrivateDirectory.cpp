//===- PrivateDirectory.cpp - A directory for a tool's own files ----------===//

#include "passes/common/PrivateDirectory.h"

#include "llvm/Support/FileSystem.h"

using namespace mlir::moe;

PrivateDirectory::PrivateDirectory(llvm::StringRef prefix) {
  if (std::error_code ec = llvm::sys::fs::createUniqueDirectory(prefix, path))
    failure = "cannot create a temporary directory: " + ec.message();
}

PrivateDirectory::~PrivateDirectory() {
  if (failure.empty())
    llvm::sys::fs::remove_directories(path, /*IgnoreErrors=*/true);
}

std::string PrivateDirectory::file(llvm::StringRef name) const {
  return (path + "/" + name).str();
}
