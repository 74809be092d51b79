//===- CpuOutlineWorkgroups.cpp - scf.forall to grids of workgroups -------===//
//
// `moe-cpu-outline-workgroups`: every outermost `scf.forall` of the entry
// (on memrefs, after bufferization) becomes a grid the runtime runs on its
// threads (artifact ABI version 3, docs/artifact-abi.md):
//
// - its body moves into a function `@<entry>_workgroup<N>(%id, captures...)`
//   that computes the iteration of workgroup `%id`;
// - the loop becomes a call of `@<entry>_grid<N>(%executor, %count,
//   captures...)`, a declaration that moe-lower-grid-launches turns into a
//   call of the executor's `run_grid` once the module is in the LLVM dialect;
// - the entry takes the executor as a new last argument (`!llvm.ptr`), which
//   the module attribute `moe.executor` records.
//
// A forall whose body only reads memory and holds one inner forall with
// bounds defined outside both (an expert loop around a column split) is
// flattened into one grid over both.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/entry/EntryFunction.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOECPUOUTLINEWORKGROUPS
#include "passes/Passes.h.inc"

namespace {

/// Whether `op` (and what it holds) writes no memory.
bool onlyReads(Operation *op) {
  if (isMemoryEffectFree(op))
    return true;
  std::optional<SmallVector<MemoryEffects::EffectInstance>> effects =
      getEffectsRecursively(op);
  return effects && llvm::all_of(*effects, [](const auto &effect) {
           return isa<MemoryEffects::Read>(effect.getEffect());
         });
}

/// The nested foralls one grid runs, outermost first: each level's body
/// holds, besides ops that only read, the next level.
SmallVector<scf::ForallOp> gridLevels(scf::ForallOp outer) {
  SmallVector<scf::ForallOp> levels = {outer};
  for (;;) {
    scf::ForallOp inner;
    for (Operation &op : levels.back().getBody()->without_terminator()) {
      if (auto forall = dyn_cast<scf::ForallOp>(op); forall && !inner) {
        inner = forall;
        continue;
      }
      if (!onlyReads(&op))
        return levels;
    }
    if (!inner)
      return levels;
    // The grid's size is computed before the outer loop starts.
    for (Value bound :
         inner.getOperands().take_front(inner.getNumControlOperands()))
      if (outer.getRegion().isAncestor(bound.getParentRegion()))
        return levels;
    levels.push_back(inner);
  }
}

/// `(ub - lb) ceildiv step` of each dimension of `forall`.
SmallVector<Value> tripCounts(OpBuilder &b, Location loc, scf::ForallOp forall,
                              IRMapping &mapping) {
  SmallVector<Value> counts;
  auto materialize = [&](OpFoldResult ofr) -> Value {
    if (auto value = dyn_cast<Value>(ofr))
      return mapping.lookupOrDefault(value);
    return b.createOrFold<arith::ConstantIndexOp>(
        loc, cast<IntegerAttr>(cast<Attribute>(ofr)).getInt());
  };
  for (auto [lb, ub, step] :
       llvm::zip(forall.getMixedLowerBound(), forall.getMixedUpperBound(),
                 forall.getMixedStep())) {
    Value span =
        b.createOrFold<arith::SubIOp>(loc, materialize(ub), materialize(lb));
    counts.push_back(
        b.createOrFold<arith::CeilDivUIOp>(loc, span, materialize(step)));
  }
  return counts;
}

struct MoECpuOutlineWorkgroupsPass
    : impl::MoECpuOutlineWorkgroupsBase<MoECpuOutlineWorkgroupsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    func::FuncOp entry = preparedEntry(module);
    if (!entry) {
      module.emitError() << "no entry was prepared; run moe-prepare-entry "
                            "before bufferization";
      return signalPassFailure();
    }
    MLIRContext *context = &getContext();
    auto ptrType = LLVM::LLVMPointerType::get(context);
    unsigned executorIndex = entry.getNumArguments();
    if (failed(
            entry.insertArgument(executorIndex, ptrType, {}, entry.getLoc())))
      return signalPassFailure();
    Value executor = entry.getArgument(executorIndex);

    SmallVector<scf::ForallOp> grids;
    entry.walk<WalkOrder::PreOrder>([&](scf::ForallOp forall) {
      grids.push_back(forall);
      return WalkResult::skip();
    });
    OpBuilder b(context);
    SymbolTable symbols(module);
    for (auto [index, forall] : llvm::enumerate(grids)) {
      if (forall.getNumResults() != 0) {
        forall.emitOpError() << "still has results; bufferize first";
        return signalPassFailure();
      }
      outline(b, symbols, entry, executor, forall, index);
    }
    module->setAttr(kExecutorAttrName, UnitAttr::get(context));
  }

  void outline(OpBuilder &b, SymbolTable &symbols, func::FuncOp entry,
               Value executor, scf::ForallOp forall, size_t index) {
    Location loc = forall.getLoc();
    SmallVector<scf::ForallOp> levels = gridLevels(forall);

    // Captures: what the body and the bounds use from outside, except
    // constants, which the workgroup function makes itself.
    llvm::SetVector<Value> used;
    getUsedValuesDefinedAbove(forall.getRegion(), used);
    // (The inner levels' bounds are defined outside too: gridLevels.)
    for (Value bound :
         forall.getOperands().take_front(forall.getNumControlOperands()))
      used.insert(bound);
    SmallVector<Value> captures;
    SmallVector<Operation *> constants;
    for (Value value : used) {
      Operation *def = value.getDefiningOp();
      if (def && def->hasTrait<OpTrait::ConstantLike>())
        constants.push_back(def);
      else
        captures.push_back(value);
    }

    // func.func private @<entry>_workgroup<N>(%id: index, captures...)
    std::string base = (entry.getSymName() + "_").str();
    SmallVector<Type> types = {b.getIndexType()};
    for (Value capture : captures)
      types.push_back(capture.getType());
    b.setInsertionPoint(entry);
    auto workgroup =
        func::FuncOp::create(b, loc, base + "workgroup" + std::to_string(index),
                             b.getFunctionType(types, {}));
    workgroup.setPrivate();
    workgroup->setAttr(kWorkgroupAttrName, b.getUnitAttr());
    symbols.insert(workgroup);
    Block *body = workgroup.addEntryBlock();
    b.setInsertionPointToStart(body);
    IRMapping mapping;
    for (Operation *constant : constants)
      b.clone(*constant, mapping);
    for (auto [capture, arg] :
         llvm::zip(captures, body->getArguments().drop_front()))
      mapping.map(capture, arg);

    // The workgroup's iteration: the flat id delinearized over every level's
    // dimensions, innermost fastest.
    SmallVector<SmallVector<Value>> counts;
    for (scf::ForallOp level : levels)
      counts.push_back(tripCounts(b, loc, level, mapping));
    Value rest = body->getArgument(0);
    SmallVector<SmallVector<Value>> positions(levels.size());
    for (int l = levels.size() - 1; l >= 0; --l) {
      positions[l].resize(counts[l].size());
      for (int d = counts[l].size() - 1; d >= 0; --d) {
        if (l == 0 && d == 0) { // the outermost: what is left (id < count)
          positions[l][d] = rest;
          break;
        }
        positions[l][d] =
            b.createOrFold<arith::RemUIOp>(loc, rest, counts[l][d]);
        rest = b.createOrFold<arith::DivUIOp>(loc, rest, counts[l][d]);
      }
    }
    for (auto [l, level] : llvm::enumerate(levels)) {
      SmallVector<Value> lbs =
          getValueOrCreateConstantIndexOp(b, loc, level.getMixedLowerBound());
      SmallVector<Value> steps =
          getValueOrCreateConstantIndexOp(b, loc, level.getMixedStep());
      for (auto [d, iv] : llvm::enumerate(level.getInductionVars())) {
        Value offset = b.createOrFold<arith::MulIOp>(
            loc, positions[l][d], mapping.lookupOrDefault(steps[d]));
        mapping.map(iv, arith::AddIOp::create(
                            b, loc, mapping.lookupOrDefault(lbs[d]), offset));
      }
      for (Operation &op : level.getBody()->without_terminator())
        if (l + 1 == levels.size() || &op != levels[l + 1].getOperation())
          b.clone(op, mapping);
    }
    func::ReturnOp::create(b, loc);

    // The launch: func.call @<entry>_grid<N>(%executor, %count, captures...)
    b.setInsertionPoint(forall);
    IRMapping outside;
    Value count;
    for (scf::ForallOp level : levels)
      for (Value c : tripCounts(b, loc, level, outside))
        count = count ? b.createOrFold<arith::MulIOp>(loc, count, c) : c;
    SmallVector<Type> launchTypes = {executor.getType(), b.getIndexType()};
    llvm::append_range(launchTypes, TypeRange(ValueRange(captures)));
    b.setInsertionPoint(entry);
    auto launch =
        func::FuncOp::create(b, loc, base + "grid" + std::to_string(index),
                             b.getFunctionType(launchTypes, {}));
    launch.setPrivate();
    launch->setAttr(kGridWorkgroupAttrName,
                    FlatSymbolRefAttr::get(workgroup.getSymNameAttr()));
    symbols.insert(launch);
    b.setInsertionPoint(forall);
    SmallVector<Value> operands = {executor, count};
    llvm::append_range(operands, captures);
    func::CallOp::create(b, loc, launch, operands);
    forall.erase();
  }
};

} // namespace
} // namespace mlir::moe
