//===- InsertIndexChecks.cpp - Check the caller's index tensors -----------===//
//
// `moe-insert-index-checks`: before every op with index operands
// (MoEIndexOperandsInterface) whose index tensor comes from the caller, scan
// the tensor for its first element outside the op's range and stop the entry
// with a message naming the argument, the position and the value.
//
//===----------------------------------------------------------------------===//

#include "passes/EntryFunction.h"
#include "passes/Passes.h"
#include "passes/TensorBuilders.h"

#include "mlir/IR/Builders.h"

#include <limits>

namespace mlir::moe {
#define GEN_PASS_DEF_MOEINSERTINDEXCHECKS
#include "passes/Passes.h.inc"

namespace {

/// `file:line:col` of `loc`, or "" when it has none.
std::string describeLocation(Location loc) {
  if (auto file = dyn_cast<FileLineColLoc>(loc))
    return (" at " + file.getFilename().strref() + ":" +
            std::to_string(file.getLine()) + ":" +
            std::to_string(file.getColumn()))
        .str();
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location inner : fused.getLocations())
      if (std::string text = describeLocation(inner); !text.empty())
        return text;
  if (auto named = dyn_cast<NameLoc>(loc))
    return describeLocation(named.getChildLoc());
  return "";
}

/// What the message calls the index tensor `index` of `op`.
std::string describeIndexTensor(Operation *op, OpOperand &operand) {
  if (auto arg = dyn_cast<BlockArgument>(operand.get()))
    if (isa<func::FuncOp>(arg.getOwner()->getParentOp()))
      return describeEntryArgument(op->getParentOfType<ModuleOp>(),
                                   arg.getArgNumber());
  return "operand #" + std::to_string(operand.getOperandNumber()) + " of " +
         op->getName().getStringRef().str();
}

/// Inserts, before `op`, the check of `range`.
void insertCheck(OpBuilder &b, Operation *op, const IndexOperandRange &range) {
  Location loc = op->getLoc();
  Value index = range.operand->get();
  auto type = cast<RankedTensorType>(index.getType());
  ArrayRef<int64_t> shape = type.getShape();
  int64_t rank = type.getRank();
  b.setInsertionPoint(op);

  // The least flat position holding an element outside [lower, upper), or
  // INT64_MAX: a min-reduction, so the answer does not depend on the order
  // in which a later tiling visits the elements.
  constexpr int64_t kNone = std::numeric_limits<int64_t>::max();
  Value none = filledTensor(b, loc, {}, b.getI64IntegerAttr(kNone));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::reduction);
  Value first =
      linalg::GenericOp::create(
          b, loc, none.getType(), index, none,
          SmallVector<AffineMap>{b.getMultiDimIdentityMap(rank),
                                 AffineMap::get(rank, 0, b.getContext())},
          iterators,
          [&](OpBuilder &nb, Location nloc, ValueRange args) {
            Value v = args[0];
            Value tooLow = arith::CmpIOp::create(
                nb, nloc, arith::CmpIPredicate::slt, v,
                arith::ConstantOp::create(
                    nb, nloc, nb.getIntegerAttr(v.getType(), range.lower)));
            Value tooHigh = arith::CmpIOp::create(
                nb, nloc, arith::CmpIPredicate::sge, v,
                arith::ConstantOp::create(
                    nb, nloc, nb.getIntegerAttr(v.getType(), range.upper)));
            Value bad = arith::OrIOp::create(nb, nloc, tooLow, tooHigh);
            Value flat = indexConstant(nb, nloc, 0);
            for (int64_t d = 0; d < rank; ++d)
              flat = arith::AddIOp::create(
                  nb, nloc,
                  arith::MulIOp::create(nb, nloc, flat,
                                        indexConstant(nb, nloc, shape[d])),
                  linalg::IndexOp::create(nb, nloc, d));
            Value position =
                arith::IndexCastOp::create(nb, nloc, nb.getI64Type(), flat);
            Value least = arith::MinSIOp::create(nb, nloc, args[1], position);
            linalg::YieldOp::create(
                nb, nloc,
                Value(arith::SelectOp::create(nb, nloc, bad, least, args[1])));
          })
          .getResult(0);

  Value position = tensor::ExtractOp::create(b, loc, first, ValueRange{});
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
  std::string message =
      describeIndexTensor(op, *range.operand) + " holds {0} at " + where +
      ": " + op->getName().getStringRef().str() + describeLocation(loc) +
      " needs " + range.meaning.str() + " in [" + std::to_string(range.lower) +
      ", " + std::to_string(range.upper) + ")";
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
    OpBuilder b(&getContext());
    for (auto &[op, range] : checks)
      insertCheck(b, op, range);
  }
};

} // namespace
} // namespace mlir::moe
