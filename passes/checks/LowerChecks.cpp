//===- LowerChecks.cpp - moe.check to early returns -----------------------===//
//
// `moe-lower-checks`: the entry gets the status record of ABI version 2 as
// its last argument (before the executor of version 3), and every
// `moe.check` becomes a branch to a block that fills the record and returns.
// A check in a workgroup function (moe-cpu-outline-workgroups) claims the
// record atomically and ends its workgroup; the entry returns after that
// grid. Runs on the CFG (after convert-scf-to-cf), so a check inside a loop
// can leave the function.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/common/TensorBuilders.h"
#include "passes/entry/EntryFunction.h"

#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOELOWERCHECKS
#include "passes/Passes.h.inc"

namespace {

/// The status record: `[code, value 0, ..., value 6]`.
constexpr int64_t kStatusSize = 1 + CheckOp::kMaxValues;

/// `value` as i64: sign-extended, or truncated from a wider integer.
Value toI64(OpBuilder &b, Location loc, Value value) {
  Type i64 = b.getI64Type();
  if (value.getType().isIndex())
    return arith::IndexCastOp::create(b, loc, i64, value);
  unsigned width = value.getType().getIntOrFloatBitWidth();
  if (width < 64)
    return arith::ExtSIOp::create(b, loc, i64, value);
  if (width > 64)
    return arith::TruncIOp::create(b, loc, i64, value);
  return value;
}

/// Replaces `check` by a branch to a block that stores its code (`code`, or
/// `firstCode + code` where the function numbers its checks from an
/// argument) and the
/// check's values in `status` and returns. In a workgroup, which runs beside
/// others, the first failed check claims the record (an atomic
/// compare-and-swap of `status[0]` from 0) and only the claimer writes the
/// values.
void lowerCheck(OpBuilder &b, CheckOp check, Value firstCode, int64_t code,
                Value status, bool inWorkgroup) {
  Location loc = check.getLoc();
  Block *before = check->getBlock();
  Block *after = before->splitBlock(check->getNextNode());
  Block *fail = b.createBlock(after);
  b.setInsertionPointToStart(fail);
  auto store = [&](Value v, int64_t slot) {
    memref::StoreOp::create(b, loc, v, status,
                            ValueRange{indexConstant(b, loc, slot)});
  };
  Value codeValue =
      arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(code));
  if (firstCode)
    codeValue = arith::AddIOp::create(b, loc, firstCode, codeValue);
  if (inWorkgroup) {
    // cmpxchg on the record's first word (the ABI's record is dense, offset
    // 0), in the LLVM dialect: memref.generic_atomic_rmw lowers only when
    // its body converts in the same conversion.
    Value zero = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0));
    Value address = arith::IndexCastOp::create(
        b, loc, b.getI64Type(),
        memref::ExtractAlignedPointerAsIndexOp::create(b, loc, status));
    Value pointer = LLVM::IntToPtrOp::create(
        b, loc, LLVM::LLVMPointerType::get(b.getContext()), address);
    auto claim = LLVM::AtomicCmpXchgOp::create(b, loc, pointer, zero, codeValue,
                                               LLVM::AtomicOrdering::acq_rel,
                                               LLVM::AtomicOrdering::monotonic);
    Value won = LLVM::ExtractValueOp::create(b, loc, claim, 1);
    Block *record = b.createBlock(after);
    Block *leave = b.createBlock(after);
    b.setInsertionPointToEnd(fail);
    cf::CondBranchOp::create(b, loc, won, record, leave);
    b.setInsertionPointToStart(leave);
    func::ReturnOp::create(b, loc);
    b.setInsertionPointToStart(record);
  } else {
    store(codeValue, 0);
  }
  for (auto [i, value] : llvm::enumerate(check.getValues()))
    store(toI64(b, loc, value), static_cast<int64_t>(i) + 1);
  func::ReturnOp::create(b, loc);
  b.setInsertionPointToEnd(before);
  cf::CondBranchOp::create(b, loc, check.getFailed(), fail, after);
  check.erase();
}

/// After `call` (a grid launch), returns when a workgroup failed a check.
void returnIfFailed(OpBuilder &b, func::CallOp call, Value status) {
  Location loc = call.getLoc();
  Block *before = call->getBlock();
  Block *after = before->splitBlock(call->getNextNode());
  Block *fail = b.createBlock(after);
  b.setInsertionPointToStart(fail);
  func::ReturnOp::create(b, loc);
  b.setInsertionPointToEnd(before);
  Value code = memref::LoadOp::create(b, loc, status,
                                      ValueRange{indexConstant(b, loc, 0)});
  Value failed = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::ne, code,
      arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0)));
  cf::CondBranchOp::create(b, loc, failed, fail, after);
}

struct MoELowerChecksPass : impl::MoELowerChecksBase<MoELowerChecksPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    func::FuncOp entry = preparedEntry(module);
    SmallVector<CheckOp> checks;
    WalkResult outside = module.walk([&](CheckOp check) {
      auto func = check->getParentOfType<func::FuncOp>();
      if (!entry || (func != entry && !isWorkgroup(func))) {
        check.emitOpError()
            << (entry ? "is outside the entry function and its workgroups; "
                        "only those can report an error (inline its callees "
                        "first)"
                      : "needs an entry; run moe-prepare-entry first");
        return WalkResult::interrupt();
      }
      if (check->getParentRegion() != &func.getBody()) {
        check.emitOpError() << "is inside a region; lower structured "
                               "control flow first (convert-scf-to-cf)";
        return WalkResult::interrupt();
      }
      checks.push_back(check);
      return WalkResult::advance();
    });
    if (outside.wasInterrupted())
      return signalPassFailure();
    if (!entry)
      return;
    if (entry.getNumResults() != 0) {
      entry.emitOpError() << "must return its results through out-parameters "
                             "(buffer-results-to-out-params) to report errors";
      return signalPassFailure();
    }

    MLIRContext *context = &getContext();
    auto statusType =
        MemRefType::get({kStatusSize}, IntegerType::get(context, 64));
    // After the results, before the executor (ABI version 3) if the entry
    // takes one.
    unsigned statusIndex = entry.getNumArguments();
    if (module->hasAttr(kExecutorAttrName))
      --statusIndex;
    if (failed(
            entry.insertArgument(statusIndex, statusType, {}, entry.getLoc())))
      return signalPassFailure();
    Value status = entry.getArgument(statusIndex);

    // Identical messages of the entry share a number. Each workgroup with
    // checks numbers its own from a first code it takes as its last capture
    // (after the status record), so that workgroups that differ only in
    // their messages are the same function (moe-cpu-merge-workgroups).
    SmallVector<Attribute> messages;
    llvm::DenseMap<StringAttr, int64_t> entryCodes;
    llvm::MapVector<func::FuncOp, SmallVector<CheckOp>> byWorkgroup;
    OpBuilder b(context);
    for (CheckOp check : checks) {
      auto func = check->getParentOfType<func::FuncOp>();
      if (func != entry) {
        byWorkgroup[func].push_back(check);
        continue;
      }
      auto [it, inserted] = entryCodes.insert(
          {check.getMessageAttr(), static_cast<int64_t>(messages.size()) + 1});
      if (inserted)
        messages.push_back(check.getMessageAttr());
      lowerCheck(b, check, nullptr, it->second, status,
                 /*inWorkgroup=*/false);
    }
    for (auto &[workgroup, workgroupChecks] : byWorkgroup) {
      int64_t firstCode = static_cast<int64_t>(messages.size()) + 1;
      if (failed(passStatusTo(b, module, entry, workgroup, status, firstCode)))
        return signalPassFailure();
      Value workgroupStatus =
          workgroup.getArgument(workgroup.getNumArguments() - 2);
      Value first = workgroup.getArguments().back();
      for (auto [i, check] : llvm::enumerate(workgroupChecks)) {
        messages.push_back(check.getMessageAttr());
        lowerCheck(b, check, first, static_cast<int64_t>(i), workgroupStatus,
                   /*inWorkgroup=*/true);
      }
    }
    module->setAttr(kChecksAttrName, ArrayAttr::get(context, messages));
  }

  /// Appends the status record and the first code of its checks to
  /// `workgroup`'s arguments and to the launches of its grid, after which
  /// the entry returns if it failed.
  LogicalResult passStatusTo(OpBuilder &b, ModuleOp module, func::FuncOp entry,
                             func::FuncOp workgroup, Value status,
                             int64_t firstCode) {
    Type statusType = status.getType(), i64 = b.getI64Type();
    if (failed(workgroup.insertArgument(workgroup.getNumArguments(), statusType,
                                        {}, workgroup.getLoc())) ||
        failed(workgroup.insertArgument(workgroup.getNumArguments(), i64, {},
                                        workgroup.getLoc())))
      return failure();
    for (auto launch : module.getOps<func::FuncOp>()) {
      auto target =
          launch->getAttrOfType<FlatSymbolRefAttr>(kGridWorkgroupAttrName);
      if (!target || target.getValue() != workgroup.getSymName())
        continue;
      SmallVector<Type> inputs(launch.getFunctionType().getInputs());
      inputs.push_back(statusType);
      inputs.push_back(i64);
      launch.setFunctionType(b.getFunctionType(inputs, {}));
      SmallVector<func::CallOp> calls;
      entry.walk([&](func::CallOp call) {
        if (call.getCallee() == launch.getSymName())
          calls.push_back(call);
      });
      for (func::CallOp call : calls) {
        b.setInsertionPoint(call);
        Value first = arith::ConstantOp::create(b, call.getLoc(),
                                                b.getI64IntegerAttr(firstCode));
        call.getOperandsMutable().append(ValueRange{status, first});
        returnIfFailed(b, call, status);
      }
    }
    return success();
  }
};

} // namespace
} // namespace mlir::moe
