//===- EntryFunction.h - The entry of a compiled module ---------*- C++ -*-===//
//
// `moe-prepare-entry` picks a module's entry function and records it, with
// its signature, as module attributes; the later passes of the artifact ABI
// (run-time checks, `moe-emit-entry`) find it there.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_ENTRYFUNCTION_H
#define MOE_PASSES_ENTRYFUNCTION_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace mlir::moe {

/// Module attributes: the entry's symbol, its signature (JSON) and the
/// messages of its run-time checks (an array of strings).
inline constexpr llvm::StringLiteral kEntryAttrName = "moe.entry";
inline constexpr llvm::StringLiteral kSignatureAttrName = "moe.signature";
inline constexpr llvm::StringLiteral kChecksAttrName = "moe.checks";
/// On the module, for the GPU (moe-gpu-form-kernels, moe-gpu-export-launches):
/// the bytes of the entry's workspace and its kernel launches (JSON).
inline constexpr llvm::StringLiteral kWorkspaceBytesAttrName =
    "moe.workspace_bytes";
inline constexpr llvm::StringLiteral kLaunchesAttrName = "moe.launches";
/// On the module: the entry's last argument is the executor that runs its
/// grids of workgroups (ABI version 3).
inline constexpr llvm::StringLiteral kExecutorAttrName = "moe.executor";
/// On the declaration a grid's launch calls: the workgroup function.
inline constexpr llvm::StringLiteral kGridWorkgroupAttrName =
    "moe.grid_workgroup";

/// On a workgroup function (moe-cpu-outline-workgroups): it runs part of the
/// entry's work.
inline constexpr llvm::StringLiteral kWorkgroupAttrName = "moe.workgroup";

/// Whether `func` is a workgroup function of the entry.
inline bool isWorkgroup(func::FuncOp func) {
  return func && func->hasAttr(kWorkgroupAttrName);
}

/// The entry recorded by `moe-prepare-entry`, or null.
func::FuncOp preparedEntry(ModuleOp module);

/// Whether `op` lies in the body of the module's prepared entry or of one of
/// its workgroup functions. Without a prepared entry (IR run through single
/// passes), every function counts.
bool isInEntry(Operation *op);

/// `file:line:col` of the first file location in `loc` (as run-time check
/// messages name a place in the source), or "" when it has none.
std::string sourceLocation(Location loc);

/// How messages name the entry's argument `index`: `input 'x'`, `weight
/// 'w_up'` (from the recorded signature), or `argument #index`.
std::string describeEntryArgument(ModuleOp module, unsigned index);

} // namespace mlir::moe

#endif // MOE_PASSES_ENTRYFUNCTION_H
