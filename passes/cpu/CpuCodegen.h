//===- CpuCodegen.h - From level-1 IR to CPU code ---------------*- C++ -*-===//
//
// The CPU back end shared by moe-compile (ahead of time: a shared object)
// and moe-run (just in time: an ExecutionEngine). Both run `moe-to-cpu` and
// give code with the artifact ABI (docs/artifact-abi.md).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_CPUCODEGEN_H
#define MOE_PASSES_CPUCODEGEN_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <functional>
#include <memory>
#include <string>

namespace mlir::moe {

/// The context the CPU back end compiles a model file in: the moe dialect,
/// upstream dialects, passes and LLVM IR translations registered, and
/// diagnostics printed as `file:line:col: error: ...` with the source line
/// (like moe-opt), without a dump of the offending op.
class ModelContext {
public:
  ModelContext();

  /// Parses `path` (a level-1 .mlir file); null after printing why not.
  OwningOpRef<ModuleOp> parse(const std::string &path);

private:
  MLIRContext context;
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics;
};

/// Runs the `moe-to-cpu` pipeline on `module` (in place); `planLayout` is
/// moe-materialize-plan's layout (auto, padded or sorted), `indexChecks`
/// moe-insert-index-checks' scope (arguments or all), `targetCpu` the CPU
/// the code is for (host or an LLVM CPU name, passes/cpu/CpuTarget.h): it
/// picks the register tiles and is recorded in the signature;
/// `groupsPerCall` the routing groups per call of an entry of a dynamic
/// number of groups (moe-specialize-groups).
LogicalResult lowerToLLVMDialect(ModuleOp module, StringRef planLayout = "auto",
                                 StringRef indexChecks = "arguments",
                                 StringRef targetCpu = "host",
                                 int64_t groupsPerCall = 1);

/// Registers every pass the CPU back end can run (upstream's and the moe
/// ones), once per process: for tools whose command line names passes
/// (`--mlir-print-ir-after=moe-lower-checks`).
void registerCpuCodegenPasses();

/// Lowers `module` (already in the LLVM dialect) to native code for the CPU
/// `targetCpu` (host: this one, with its features; else an LLVM CPU name
/// such as x86-64-v3, with that CPU's features) at -O3, links it into a
/// shared object and writes its bytes to `os`. The intermediate files live
/// in a private temporary directory, removed afterwards. `error` says what
/// failed.
LogicalResult emitSharedObject(ModuleOp module, llvm::raw_ostream &os,
                               std::string &error,
                               StringRef targetCpu = "host");

/// A module compiled just in time: the artifact ABI's two symbols, alive as
/// long as this object.
class JitArtifact {
public:
  /// `void moe_entry(void **args)`.
  using EntryFn = void (*)(void **);

  virtual ~JitArtifact() = default;
  virtual const char *signatureJson() const = 0;
  virtual EntryFn entry() const = 0;
};

/// Compiles `module` (already in the LLVM dialect) in memory, for this host
/// (lower it with targetCpu `host`).
std::unique_ptr<JitArtifact> compileJit(ModuleOp module, std::string &error);

} // namespace mlir::moe

#endif // MOE_PASSES_CPUCODEGEN_H
