//===- ToolOutput.h - moe-compile's and moe-opt's output file ---*- C++ -*-===//
//
// The LLVM-side face of runtime/OutputFile.h for the tools that print
// through a raw_ostream: the output replaces its target only when everything
// was printed and written, so a failed compile or a failed write never harms
// an existing file (`-o INPUT` rewrites the input only on success).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TOOLS_COMMON_TOOLOUTPUT_H
#define MOE_TOOLS_COMMON_TOOLOUTPUT_H

#include "runtime/OutputFile.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/LogicalResult.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace moe {

/// Writes what `print` prints to `path` ("-" is stdout). Fails when `print`
/// fails (it reported why; `error` is left empty; the target is untouched)
/// or when the output cannot be written (`error` is one line naming `path`).
llvm::LogicalResult writeToolOutput(
    llvm::StringRef path, FileMode mode,
    llvm::function_ref<llvm::LogicalResult(llvm::raw_ostream &)> print,
    std::string &error);

} // namespace moe

#endif // MOE_TOOLS_COMMON_TOOLOUTPUT_H
