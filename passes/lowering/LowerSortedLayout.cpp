//===- LowerSortedLayout.cpp - The sorted layout's ops to linalg ----------===//
//
// The sorted/ragged layout keeps only the occupied slots, as rows sorted by
// expert (then group, then slot). `moe.sort_slots` builds the row tables with
// prefix sums and a sequential scatter over the slots (cheap: one pass over
// the slot table); gather and combine are `linalg.generic` ops whose bodies
// read the row tables. The grouped GEMM is a loop over experts, each a
// `linalg.matmul` on its own contiguous rows (a dynamic-size slice): the only
// dynamic shapes, and the form tiling and microkernels want.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/common/Activation.h"
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
    Value rowToken =
        forRange(
            rewriter, loc, g, {rowTokenInit},
            [&](OpBuilder &b, Location l, Value gi, ValueRange byGroup) {
              auto experts = forRange(
                  b, l, e, byGroup,
                  [&](OpBuilder &b2, Location l2, Value ei,
                      ValueRange byExpert) {
                    Value count =
                        toIndex(b2, l2, loadI32(b2, l2, counts, {gi, ei}));
                    Value first =
                        toIndex(b2, l2, loadI32(b2, l2, firstRow, {gi, ei}));
                    auto slots = forLoop(
                        b2, l2, idx(b2, l2, 0), count, byExpert,
                        [&](OpBuilder &b3, Location l3, Value ci,
                            ValueRange it) {
                          Value token = loadI32(b3, l3, table, {gi, ei, ci});
                          Value groupStart =
                              toI32(b3, l3,
                                    arith::MulIOp::create(b3, l3, gi,
                                                          idx(b3, l3, s)));
                          Value row = arith::AddIOp::create(b3, l3, first, ci);
                          return SmallVector<Value>{tensor::InsertOp::create(
                              b3, l3, addI32(b3, l3, groupStart, token), it[0],
                              ValueRange{row})};
                        });
                    return SmallVector<Value>(slots.getResults());
                  });
              return SmallVector<Value>(experts.getResults());
            })
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

struct LowerGatherTokens : OpRewritePattern<GatherTokensOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GatherTokensOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto rowsType = op.getRows().getType();
    Type elementType = rowsType.getElementType();
    int64_t s = op.getInput().getType().getDimSize(1);
    Value rows = generateTensor(
        rewriter, loc, rowsType.getShape(), elementType,
        [&](OpBuilder &b, Location l, ValueRange at) -> Value {
          Value token = loadI32(b, l, op.getRowToken(), {at[0]});
          Value unused = isNone(b, l, token);
          Value flat = clampedIndex(b, l, token);
          Value sv = indexConstant(b, l, s);
          Value group = arith::DivUIOp::create(b, l, flat, sv);
          Value within = arith::RemUIOp::create(b, l, flat, sv);
          Value v = tensor::ExtractOp::create(b, l, op.getInput(),
                                              ValueRange{group, within, at[1]});
          Value zero =
              arith::ConstantOp::create(b, l, b.getFloatAttr(elementType, 0.0));
          return arith::SelectOp::create(b, l, unused, zero, v);
        });
    rewriter.replaceOp(op, rows);
    return success();
  }
};

struct LowerGroupedMatmul : OpRewritePattern<GroupedMatmulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GroupedMatmulOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto inputType = op.getInput().getType();
    auto weightType = op.getWeight().getType();
    int64_t n = inputType.getDimSize(0), e = weightType.getDimSize(0),
            p = weightType.getDimSize(2);
    Type elementType = inputType.getElementType();
    Value weight = op.getWeight(), bias = op.getBias();
    int64_t k = inputType.getDimSize(1);
    Value offsets = op.getExpertOffsets(), input = op.getInput();
    // The rows past the last expert's stay zeros.
    // Per expert (in parallel: their rows are disjoint), one matmul on its
    // own rows, accumulating onto its bias, then the activation:
    // z[rows of e] = act(bias[e] + input[rows of e] @ weight[e]).
    // Every activation maps 0 to 0, so the unused rows stay zeros.
    std::optional<Activation> activation = op.getActivation();
    int64_t q = op.getOutput().getType().getDimSize(1);
    Value init = filledTensor(rewriter, loc, {n, q},
                              rewriter.getFloatAttr(elementType, 0.0));
    auto product = scf::ForallOp::create(
        rewriter, loc, ArrayRef<OpFoldResult>{rewriter.getIndexAttr(e)},
        ValueRange{init}, std::nullopt,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value expert = args[0], out = args[1];
          Value next =
              arith::AddIOp::create(b, l, expert, indexConstant(b, l, 1));
          Value start = toIndex(b, l, loadI32(b, l, offsets, {expert}));
          Value end = toIndex(b, l, loadI32(b, l, offsets, {next}));
          Value count = arith::SubIOp::create(b, l, end, start);
          SmallVector<OpFoldResult> rowOffsets = {start, b.getIndexAttr(0)};
          auto rowSizes = [&](int64_t width) {
            return SmallVector<OpFoldResult>{count, b.getIndexAttr(width)};
          };
          SmallVector<OpFoldResult> unit2(2, b.getIndexAttr(1));
          SmallVector<OpFoldResult> unit3(3, b.getIndexAttr(1));
          Value rows = tensor::ExtractSliceOp::create(b, l, input, rowOffsets,
                                                      rowSizes(k), unit2);
          Value acc = tensor::EmptyOp::create(
              b, l, ArrayRef<OpFoldResult>{count, b.getIndexAttr(p)},
              elementType);
          if (bias) {
            Value expertBias = tensor::ExtractSliceOp::create(
                b, l,
                tensorType(
                    {p},
                    cast<RankedTensorType>(bias.getType()).getElementType()),
                bias, {expert, b.getIndexAttr(0)},
                {b.getIndexAttr(1), b.getIndexAttr(p)}, unit2);
            acc = linalg::BroadcastOp::create(b, l, expertBias, acc,
                                              ArrayRef<int64_t>{0})
                      .getResult()[0];
          } else {
            acc = linalg::FillOp::create(
                      b, l,
                      ValueRange{arith::ConstantOp::create(
                          b, l, b.getFloatAttr(elementType, 0.0))},
                      ValueRange{acc})
                      .getResult(0);
          }
          Value w = tensor::ExtractSliceOp::create(
              b, l, tensorType({k, p}, weightType.getElementType()), weight,
              {expert, b.getIndexAttr(0), b.getIndexAttr(0)},
              {b.getIndexAttr(1), b.getIndexAttr(k), b.getIndexAttr(p)}, unit3);
          Value z = linalg::MatmulOp::create(b, l, ValueRange{rows, w},
                                             ValueRange{acc})
                        .getResult(0);
          if (activation)
            z = activateTensor(b, l, *activation, z);
          auto inParallel = scf::InParallelOp::create(b, l);
          b.setInsertionPointToStart(inParallel.getBody());
          tensor::ParallelInsertSliceOp::create(b, l, z, out, rowOffsets,
                                                rowSizes(q), unit2);
        });
    Value z = product.getResult(0);
    rewriter.replaceOp(op, z);
    return success();
  }
};

struct LowerCombineTokens : OpRewritePattern<CombineTokensOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(CombineTokensOp op,
                                PatternRewriter &rewriter) const override {
    Value rows = op.getRows();
    // out[g, s, i] += w[g, s, j] * rows[row(g, s, j), i]
    Value output = sumWeightedRows(
        rewriter, op.getLoc(), op.getOutput().getType(), op.getTokenRow(),
        op.getTokenWeight(),
        [&](OpBuilder &b, Location l, Value row, Value, Value i) -> Value {
          return tensor::ExtractOp::create(b, l, rows, ValueRange{row, i});
        });
    rewriter.replaceOp(op, output);
    return success();
  }
};

} // namespace

void populateLowerSortedLayoutPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerSortSlots, LowerGatherTokens, LowerGroupedMatmul,
               LowerCombineTokens>(patterns.getContext());
}

} // namespace mlir::moe
