//===- CpuMergeWorkgroups.cpp - One function per distinct workgroup -------===//
//
// `moe-cpu-merge-workgroups`: a model repeats its blocks, and every grid of
// every block has a workgroup function of its own (moe-cpu-outline-
// workgroups), so a 12-block ViT hands LLVM twelve copies of each. Workgroups
// whose bodies are the same (the same ops, attributes and types, their values
// used alike; locations aside) become one function: the launches of the
// others launch it, and the copies go. Run after moe-lower-checks, which
// numbers a workgroup's checks from an argument so that workgroups differing
// only in their messages are the same.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/entry/EntryFunction.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/OperationSupport.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOECPUMERGEWORKGROUPS
#include "passes/Passes.h.inc"

namespace {

/// A hash of what the body of `func` does, independent of its values'
/// identities and of locations: equal for equivalent bodies.
llvm::hash_code bodyHash(func::FuncOp func) {
  llvm::hash_code hash = hash_value(func.getFunctionType());
  func.getBody().walk([&](Operation *op) {
    hash =
        llvm::hash_combine(hash, OperationEquivalence::computeHash(
                                     op, OperationEquivalence::ignoreHashValue,
                                     OperationEquivalence::ignoreHashValue,
                                     OperationEquivalence::IgnoreLocations));
  });
  return hash;
}

struct MoECpuMergeWorkgroupsPass
    : impl::MoECpuMergeWorkgroupsBase<MoECpuMergeWorkgroupsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    llvm::DenseMap<unsigned, SmallVector<func::FuncOp>> kept;
    llvm::DenseMap<StringAttr, func::FuncOp> mergedInto;
    SmallVector<func::FuncOp> copies;
    for (auto func : module.getOps<func::FuncOp>()) {
      if (!isWorkgroup(func) || func.isExternal())
        continue;
      SmallVector<func::FuncOp> &bucket =
          kept[static_cast<unsigned>(bodyHash(func))];
      auto same = llvm::find_if(bucket, [&](func::FuncOp other) {
        return other.getFunctionType() == func.getFunctionType() &&
               OperationEquivalence::isRegionEquivalentTo(
                   &other.getBody(), &func.getBody(),
                   OperationEquivalence::IgnoreLocations);
      });
      if (same == bucket.end()) {
        bucket.push_back(func);
        continue;
      }
      mergedInto[func.getSymNameAttr()] = *same;
      copies.push_back(func);
    }
    if (copies.empty())
      return;
    for (auto launch : module.getOps<func::FuncOp>()) {
      auto target =
          launch->getAttrOfType<FlatSymbolRefAttr>(kGridWorkgroupAttrName);
      if (!target)
        continue;
      auto merged = mergedInto.find(target.getAttr());
      if (merged != mergedInto.end())
        launch->setAttr(
            kGridWorkgroupAttrName,
            FlatSymbolRefAttr::get(merged->second.getSymNameAttr()));
    }
    // One walk for the uses of every copy: a model has hundreds.
    if (std::optional<SymbolTable::UseRange> uses =
            SymbolTable::getSymbolUses(&module.getBodyRegion()))
      for (const SymbolTable::SymbolUse &use : *uses)
        if (mergedInto.count(use.getSymbolRef().getRootReference())) {
          use.getUser()->emitError()
              << "uses the workgroup function " << use.getSymbolRef()
              << " other than as a grid launch's workgroup; it cannot be "
                 "merged";
          return signalPassFailure();
        }
    for (func::FuncOp copy : copies)
      copy.erase();
  }
};

} // namespace
} // namespace mlir::moe
