//===- LowerChecks.cpp - moe.check to early returns -----------------------===//
//
// `moe-lower-checks`: the entry gets the status record of ABI version 2 as
// its last argument, and every `moe.check` becomes a branch to a block that
// fills the record and returns. Runs on the CFG (after convert-scf-to-cf), so
// a check inside a loop can leave the function.
//
//===----------------------------------------------------------------------===//

#include "passes/EntryFunction.h"
#include "passes/Passes.h"
#include "passes/TensorBuilders.h"

#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
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

/// Replaces `check` by a branch to a block that stores `code` and the
/// check's values in `status` and returns.
void lowerCheck(OpBuilder &b, CheckOp check, int64_t code, Value status) {
  Location loc = check.getLoc();
  Block *before = check->getBlock();
  Block *after = before->splitBlock(check->getNextNode());
  Block *fail = b.createBlock(after);
  b.setInsertionPointToStart(fail);
  auto store = [&](Value v, int64_t slot) {
    memref::StoreOp::create(b, loc, v, status,
                            ValueRange{indexConstant(b, loc, slot)});
  };
  store(arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(code)), 0);
  for (auto [i, value] : llvm::enumerate(check.getValues()))
    store(toI64(b, loc, value), static_cast<int64_t>(i) + 1);
  func::ReturnOp::create(b, loc);
  b.setInsertionPointToEnd(before);
  cf::CondBranchOp::create(b, loc, check.getFailed(), fail, after);
  check.erase();
}

struct MoELowerChecksPass : impl::MoELowerChecksBase<MoELowerChecksPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    func::FuncOp entry = preparedEntry(module);
    SmallVector<CheckOp> checks;
    WalkResult outside = module.walk([&](CheckOp check) {
      if (!entry || check->getParentOfType<func::FuncOp>() != entry) {
        check.emitOpError()
            << (entry ? "is outside the entry function; only the entry can "
                        "report an error (inline its callees first)"
                      : "needs an entry; run moe-prepare-entry first");
        return WalkResult::interrupt();
      }
      if (check->getParentRegion() != &entry.getBody()) {
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
    unsigned statusIndex = entry.getNumArguments();
    if (failed(
            entry.insertArgument(statusIndex, statusType, {}, entry.getLoc())))
      return signalPassFailure();
    Value status = entry.getArgument(statusIndex);

    // Identical messages share a number.
    llvm::MapVector<StringAttr, int64_t> codes;
    OpBuilder b(context);
    for (CheckOp check : checks) {
      int64_t code = codes.insert({check.getMessageAttr(), codes.size() + 1})
                         .first->second;
      lowerCheck(b, check, code, status);
    }
    SmallVector<Attribute> messages;
    for (auto &[message, code] : codes)
      messages.push_back(message);
    module->setAttr(kChecksAttrName, ArrayAttr::get(context, messages));
  }
};

} // namespace
} // namespace mlir::moe
