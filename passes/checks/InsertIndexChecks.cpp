//===- InsertIndexChecks.cpp - Check the caller's index tensors -----------===//
//
// `moe-insert-index-checks`: before every op with index operands
// (MoEIndexOperandsInterface) whose index tensor comes from the caller, scan
// the tensor for its first element outside the op's range and stop the entry
// with a message naming the argument, the position and the value.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/common/TensorBuilders.h"
#include "passes/entry/EntryFunction.h"

#include "mlir/IR/Builders.h"

#include <limits>

namespace mlir::moe {
#define GEN_PASS_DEF_MOEINSERTINDEXCHECKS
#include "passes/Passes.h.inc"

namespace {

/// What the message calls the index tensor `index` of `op`.
std::string describeIndexTensor(Operation *op, OpOperand &operand) {
  if (auto arg = dyn_cast<BlockArgument>(operand.get()))
    if (isa<func::FuncOp>(arg.getOwner()->getParentOp()))
      return describeEntryArgument(op->getParentOfType<ModuleOp>(),
                                   arg.getArgNumber());
  return "operand #" + std::to_string(operand.getOperandNumber()) + " of " +
         op->getName().getStringRef().str();
}

/// The least flat position of `index` holding an element outside
/// `[lower, upper)`, or `none`: loops over the elements carrying a scalar, so
/// the scan allocates nothing a failed check could leak.
Value firstOutOfRange(OpBuilder &b, Location loc, Value index, int64_t lower,
                      int64_t upper, Value none) {
  auto type = cast<RankedTensorType>(index.getType());
  ArrayRef<int64_t> shape = type.getShape();
  Type elementType = type.getElementType();
  SmallVector<Value> at;
  std::function<Value(OpBuilder &, Location, int64_t, Value)> scan =
      [&](OpBuilder &lb, Location l, int64_t dim, Value least) -> Value {
    if (dim == static_cast<int64_t>(shape.size())) {
      Value v = tensor::ExtractOp::create(lb, l, index, at);
      auto bound = [&](int64_t value) {
        return arith::ConstantOp::create(lb, l,
                                         lb.getIntegerAttr(elementType, value));
      };
      Value bad = arith::OrIOp::create(
          lb, l,
          arith::CmpIOp::create(lb, l, arith::CmpIPredicate::slt, v,
                                bound(lower)),
          arith::CmpIOp::create(lb, l, arith::CmpIPredicate::sge, v,
                                bound(upper)));
      Value flat = indexConstant(lb, l, 0);
      for (auto [d, i] : llvm::enumerate(at))
        flat = arith::AddIOp::create(
            lb, l,
            arith::MulIOp::create(lb, l, flat, indexConstant(lb, l, shape[d])),
            i);
      Value position = arith::IndexCastOp::create(lb, l, lb.getI64Type(), flat);
      return arith::SelectOp::create(
          lb, l, bad, arith::MinSIOp::create(lb, l, least, position), least);
    }
    return forRange(lb, l, shape[dim], least,
                    [&](OpBuilder &nb, Location nl, Value i, ValueRange it) {
                      at.push_back(i);
                      Value result = scan(nb, nl, dim + 1, it[0]);
                      at.pop_back();
                      return SmallVector<Value>{result};
                    })
        .getResult(0);
  };
  return scan(b, loc, 0, none);
}

/// Inserts at `b`'s insertion point the check of `range` of `op`.
void insertCheck(OpBuilder &b, Operation *op, const IndexOperandRange &range) {
  Location loc = op->getLoc();
  Value index = range.operand->get();
  auto type = cast<RankedTensorType>(index.getType());
  ArrayRef<int64_t> shape = type.getShape();
  int64_t rank = type.getRank();

  constexpr int64_t kNone = std::numeric_limits<int64_t>::max();
  Value position = firstOutOfRange(
      b, loc, index, range.lower, range.upper,
      arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(kNone)));
  Value failed = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::ne, position,
      arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(kNone)));
  // Read the element at the position, or at 0 when there is none.
  Value flat = arith::IndexCastOp::create(
      b, loc, b.getIndexType(),
      arith::SelectOp::create(
          b, loc, failed, position,
          arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0))));
  SmallVector<Value> at(rank);
  for (int64_t d = rank - 1; d >= 0; --d) {
    Value extent = indexConstant(b, loc, shape[d]);
    at[d] = arith::RemUIOp::create(b, loc, flat, extent);
    flat = arith::DivUIOp::create(b, loc, flat, extent);
  }
  Value value = tensor::ExtractOp::create(b, loc, index, at);

  std::string where = "[";
  for (int64_t d = 0; d < rank; ++d)
    where += (d ? ", {" : "{") + std::to_string(d + 1) + "}";
  where += "]";
  std::string source = sourceLocation(loc);
  std::string message =
      describeIndexTensor(op, *range.operand) + " holds {0} at " + where +
      ": " + op->getName().getStringRef().str() +
      (source.empty() ? "" : " at " + source) + " needs " +
      range.meaning.str() + " in [" + std::to_string(range.lower) + ", " +
      std::to_string(range.upper) + ")";
  SmallVector<Value> values = {value};
  values.append(at.begin(), at.end());
  CheckOp::create(b, loc, failed, b.getStringAttr(message), values);
}

struct MoEInsertIndexChecksPass
    : impl::MoEInsertIndexChecksBase<MoEInsertIndexChecksPass> {
  using MoEInsertIndexChecksBase::MoEInsertIndexChecksBase;

  LogicalResult initialize(MLIRContext *context) override {
    if (scope == "arguments" || scope == "all")
      return success();
    return emitError(UnknownLoc::get(context))
           << "moe-insert-index-checks: unknown scope '" << scope
           << "'; expected arguments or all";
  }

  void runOnOperation() override {
    SmallVector<std::pair<Operation *, IndexOperandRange>> checks;
    getOperation()->walk([&](IndexOperandsInterface op) {
      if (!isInEntry(op))
        return;
      for (const IndexOperandRange &range : op.getIndexOperandRanges()) {
        auto arg = dyn_cast<BlockArgument>(range.operand->get());
        bool fromCaller =
            arg && isa<func::FuncOp>(arg.getOwner()->getParentOp());
        if (fromCaller || scope == "all")
          checks.emplace_back(op, range);
      }
    });
    // The caller's index tensors are checked where the entry starts, before
    // it allocates anything a failed check would leave allocated; computed
    // ones (scope=all) right before their op.
    OpBuilder b(&getContext());
    llvm::DenseMap<Block *, Operation *> entryStart;
    for (auto &[op, range] : checks) {
      auto arg = dyn_cast<BlockArgument>(range.operand->get());
      if (arg && isa<func::FuncOp>(arg.getOwner()->getParentOp())) {
        // In program order, before the entry's first original op.
        Block *block = arg.getOwner();
        auto [it, inserted] = entryStart.try_emplace(block, &block->front());
        b.setInsertionPoint(it->second);
      } else {
        b.setInsertionPoint(op);
      }
      insertCheck(b, op, range);
    }
  }
};

} // namespace
} // namespace mlir::moe
