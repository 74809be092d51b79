//===- LowerSortSlots.cpp - The sorted layout's row tables to linalg
//-------===//
//
// The sorted/ragged layout keeps only the occupied slots, as rows sorted by
// expert (then group, then slot). `moe.sort_slots` builds the row tables with
// prefix sums and a sequential scatter over the slots (cheap: one pass over
// the slot table). The data path on those rows (gather, grouped GEMMs,
// scatter-add) decomposes itself (DataPathDecomposition.cpp).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/common/TensorBuilders.h"
#include "passes/lowering/LoweringPatterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::moe {
namespace {

Value loadI32(OpBuilder &b, Location loc, Value tensor, ValueRange at) {
  return tensor::ExtractOp::create(b, loc, tensor, at);
}

Value addI32(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::AddIOp::create(b, loc, x, y);
}

struct LowerSortSlots : OpRewritePattern<SortSlotsOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SortSlotsOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value table = op.getSlotToken(), tokenSlot = op.getTokenSlot();
    auto tableType = cast<RankedTensorType>(table.getType());
    int64_t g = tableType.getDimSize(0), e = tableType.getDimSize(1),
            c = tableType.getDimSize(2);
    int64_t s = cast<RankedTensorType>(tokenSlot.getType()).getDimSize(1);
    int64_t rows = op.getRowToken().getType().getDimSize(0);
    Type i32 = rewriter.getI32Type();
    auto idx = [](OpBuilder &b, Location l, int64_t v) {
      return indexConstant(b, l, v);
    };

    // The occupied slots of an expert in a group are its first ones.
    Value counts = reduceDim(
        rewriter, loc, table, 2, rewriter.getI32IntegerAttr(0),
        [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
          Value one = arith::ExtUIOp::create(
              nb, nloc, nb.getI32Type(),
              arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::sge,
                                    args[1], i32Constant(nb, nloc, 0)));
          return addI32(nb, nloc, args[0], one);
        }); // [G, E]
    // The rows of `expert` in groups before `group`.
    auto rowsBefore = [&](OpBuilder &b, Location l, Value group, Value expert) {
      return forLoop(b, l, idx(b, l, 0), group, {i32Constant(b, l, 0)},
                     [&](OpBuilder &nb, Location nl, Value gi, ValueRange acc) {
                       Value n = loadI32(nb, nl, counts, {gi, expert});
                       return SmallVector<Value>{addI32(nb, nl, acc[0], n)};
                     })
          .getResult(0);
    };
    // expert_offsets[0] = 0, expert_offsets[e + 1] = offsets[e] + rows of e.
    Value offsetsInit =
        filledTensor(rewriter, loc, {e + 1}, rewriter.getI32IntegerAttr(0));
    Value offsets =
        forRange(rewriter, loc, e, {offsetsInit, i32Constant(rewriter, loc, 0)},
                 [&](OpBuilder &b, Location l, Value ei, ValueRange it) {
                   Value total =
                       addI32(b, l, it[1], rowsBefore(b, l, idx(b, l, g), ei));
                   Value next = arith::AddIOp::create(b, l, ei, idx(b, l, 1));
                   Value updated =
                       tensor::InsertOp::create(b, l, total, it[0], next);
                   return SmallVector<Value>{updated, total};
                 })
            .getResult(0);
    // The first row of (group, expert).
    Value firstRow =
        generateTensor(rewriter, loc, {g, e}, i32,
                       [&](OpBuilder &b, Location l, ValueRange at) -> Value {
                         return addI32(b, l, loadI32(b, l, offsets, {at[1]}),
                                       rowsBefore(b, l, at[0], at[1]));
                       });
    // row_token: scatter every occupied slot to its row.
    Value rowTokenInit =
        filledTensor(rewriter, loc, {rows}, rewriter.getI32IntegerAttr(-1));
    // (Every occupied slot has a row of its own.)
    Value rowToken =
        markDisjointIterations(
            forRange(
                rewriter, loc, g, {rowTokenInit},
                [&](OpBuilder &b, Location l, Value gi, ValueRange byGroup) {
                  auto experts = markDisjointIterations(forRange(
                      b, l, e, byGroup,
                      [&](OpBuilder &b2, Location l2, Value ei,
                          ValueRange byExpert) {
                        Value count =
                            toIndex(b2, l2, loadI32(b2, l2, counts, {gi, ei}));
                        Value first = toIndex(
                            b2, l2, loadI32(b2, l2, firstRow, {gi, ei}));
                        auto slots = markDisjointIterations(forLoop(
                            b2, l2, idx(b2, l2, 0), count, byExpert,
                            [&](OpBuilder &b3, Location l3, Value ci,
                                ValueRange it) {
                              Value token =
                                  loadI32(b3, l3, table, {gi, ei, ci});
                              Value groupStart =
                                  toI32(b3, l3,
                                        arith::MulIOp::create(b3, l3, gi,
                                                              idx(b3, l3, s)));
                              Value row =
                                  arith::AddIOp::create(b3, l3, first, ci);
                              return SmallVector<Value>{
                                  tensor::InsertOp::create(
                                      b3, l3, addI32(b3, l3, groupStart, token),
                                      it[0], ValueRange{row})};
                            }));
                        return SmallVector<Value>(slots.getResults());
                      }));
                  return SmallVector<Value>(experts.getResults());
                }))
            .getResult(0);
    // token_row: the row of the slot each assignment holds.
    Value tokenRow = generateTensor(
        rewriter, loc, op.getTokenRow().getType().getShape(), i32,
        [&](OpBuilder &b, Location l, ValueRange at) -> Value {
          Value slot = loadI32(b, l, tokenSlot, at);
          Value none = isNone(b, l, slot);
          Value flat = clampedIndex(b, l, slot);
          Value expert = arith::DivUIOp::create(b, l, flat, idx(b, l, c));
          Value within = arith::RemUIOp::create(b, l, flat, idx(b, l, c));
          Value row = addI32(b, l, loadI32(b, l, firstRow, {at[0], expert}),
                             toI32(b, l, within));
          return arith::SelectOp::create(b, l, none, slot, row);
        });
    rewriter.replaceOp(op, {rowToken, offsets, tokenRow});
    return success();
  }
};

} // namespace

void populateLowerSortSlotsPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerSortSlots>(patterns.getContext());
}

} // namespace mlir::moe
