//===- PrivateDirectory.h - A directory for a tool's own files --*- C++ -*-===//
//
// moe-compile writes intermediate files (an object file, SPIR-V) and runs
// tools on them. They go to a fresh directory of their own under the
// system's temporary folder, removed with its contents at the end, so that
// no file of the user's is ever written, replaced or removed.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_COMMON_PRIVATEDIRECTORY_H
#define MOE_PASSES_COMMON_PRIVATEDIRECTORY_H

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringRef.h"

#include <string>

namespace mlir::moe {

class PrivateDirectory {
public:
  /// Creates a new directory named after `prefix`; where that fails,
  /// `error()` says why.
  explicit PrivateDirectory(llvm::StringRef prefix);
  /// Removes the directory and everything in it.
  ~PrivateDirectory();
  PrivateDirectory(const PrivateDirectory &) = delete;
  PrivateDirectory &operator=(const PrivateDirectory &) = delete;

  /// Empty when the directory exists, else the reason it does not.
  const std::string &error() const { return failure; }
  /// The path of the file `name` in it.
  std::string file(llvm::StringRef name) const;

private:
  llvm::SmallString<128> path;
  std::string failure;
};

} // namespace mlir::moe

#endif // MOE_PASSES_COMMON_PRIVATEDIRECTORY_H
