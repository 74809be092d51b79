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

#include "passes/Activation.h"
#include "passes/LoweringPatterns.h"
#include "passes/Passes.h"
#include "passes/TensorBuilders.h"

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

Value isNegative(OpBuilder &b, Location loc, Value x) {
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, x,
                               i32Constant(b, loc, 0));
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
        forLoop(rewriter, loc, idx(rewriter, loc, 0), idx(rewriter, loc, e),
                {offsetsInit, i32Constant(rewriter, loc, 0)},
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
    auto forAll =
        [&](OpBuilder &b, Location l, int64_t n, Value init,
            function_ref<Value(OpBuilder &, Location, Value, Value)> body) {
          return forLoop(
                     b, l, idx(b, l, 0), idx(b, l, n), {init},
                     [&](OpBuilder &nb, Location nl, Value i, ValueRange it) {
                       return SmallVector<Value>{body(nb, nl, i, it[0])};
                     })
              .getResult(0);
        };
    Value rowToken = forAll(
        rewriter, loc, g, rowTokenInit,
        [&](OpBuilder &b, Location l, Value gi, Value acc) {
          return forAll(
              b, l, e, acc,
              [&](OpBuilder &b2, Location l2, Value ei, Value acc2) {
                Value count =
                    toIndex(b2, l2, loadI32(b2, l2, counts, {gi, ei}));
                Value first =
                    toIndex(b2, l2, loadI32(b2, l2, firstRow, {gi, ei}));
                return forLoop(
                           b2, l2, idx(b2, l2, 0), count, {acc2},
                           [&](OpBuilder &b3, Location l3, Value ci,
                               ValueRange it) {
                             Value token = loadI32(b3, l3, table, {gi, ei, ci});
                             Value flat =
                                 addI32(b3, l3,
                                        toI32(b3, l3,
                                              arith::MulIOp::create(
                                                  b3, l3, gi, idx(b3, l3, s))),
                                        token);
                             Value row =
                                 arith::AddIOp::create(b3, l3, first, ci);
                             return SmallVector<Value>{tensor::InsertOp::create(
                                 b3, l3, flat, it[0], ValueRange{row})};
                           })
                    .getResult(0);
              });
        });
    // token_row: the row of the slot each assignment holds.
    Value tokenRow = generateTensor(
        rewriter, loc, op.getTokenRow().getType().getShape(), i32,
        [&](OpBuilder &b, Location l, ValueRange at) -> Value {
          Value slot = loadI32(b, l, tokenSlot, at);
          Value none = isNegative(b, l, slot);
          Value flat = toIndex(
              b, l,
              arith::SelectOp::create(b, l, none, i32Constant(b, l, 0), slot));
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
          Value unused = isNegative(b, l, token);
          Value flat = toIndex(b, l,
                               arith::SelectOp::create(
                                   b, l, unused, i32Constant(b, l, 0), token));
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

/// The expert of each of `rows` rows, `-1` past the last expert's rows:
/// `E - #{e : offsets[e + 1] > r}`.
Value rowExperts(OpBuilder &b, Location loc, Value offsets, int64_t rows,
                 int64_t experts) {
  return generateTensor(
      b, loc, {rows}, b.getI32Type(),
      [&](OpBuilder &nb, Location l, ValueRange at) -> Value {
        Value r = toI32(nb, l, at[0]);
        Value after =
            forLoop(nb, l, indexConstant(nb, l, 1),
                    indexConstant(nb, l, experts + 1), {i32Constant(nb, l, 0)},
                    [&](OpBuilder &b2, Location l2, Value ei, ValueRange acc) {
                      Value end = loadI32(b2, l2, offsets, {ei});
                      Value more = arith::ExtUIOp::create(
                          b2, l2, b2.getI32Type(),
                          arith::CmpIOp::create(
                              b2, l2, arith::CmpIPredicate::sgt, end, r));
                      return SmallVector<Value>{addI32(b2, l2, acc[0], more)};
                    })
                .getResult(0);
        Value expert =
            arith::SubIOp::create(nb, l, i32Constant(nb, l, experts), after);
        Value past = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq,
                                           expert, i32Constant(nb, l, experts));
        return arith::SelectOp::create(nb, l, past, i32Constant(nb, l, -1),
                                       expert);
      });
}

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
    // The accumulator starts at the bias of each row's expert (0 for the
    // rows of no expert), or at 0.
    Value init = filledTensor(rewriter, loc, {n, p},
                              rewriter.getFloatAttr(elementType, 0.0));
    if (bias) {
      Value experts = rowExperts(rewriter, loc, op.getExpertOffsets(), n, e);
      init = generateTensor(
          rewriter, loc, {n, p}, elementType,
          [&](OpBuilder &b, Location l, ValueRange at) -> Value {
            Value expert = loadI32(b, l, experts, {at[0]});
            Value clamped = toIndex(
                b, l,
                arith::MaxSIOp::create(b, l, expert, i32Constant(b, l, 0)));
            Value v = tensor::ExtractOp::create(b, l, bias,
                                                ValueRange{clamped, at[1]});
            Value zero = arith::ConstantOp::create(
                b, l, b.getFloatAttr(elementType, 0.0));
            return arith::SelectOp::create(b, l, isNegative(b, l, expert), zero,
                                           v);
          });
    }
    // Per expert, one matmul on its own rows: z[rows of e] += input[rows of
    // e] @ weight[e] (the rows past the last expert's keep their zeros).
    int64_t k = inputType.getDimSize(1);
    Value offsets = op.getExpertOffsets();
    Value input = op.getInput();
    auto product = forRange(
        rewriter, loc, e, ValueRange{init},
        [&](OpBuilder &b, Location l, Value expert, ValueRange it) {
          Value next =
              arith::AddIOp::create(b, l, expert, indexConstant(b, l, 1));
          Value start = toIndex(b, l, loadI32(b, l, offsets, {expert}));
          Value end = toIndex(b, l, loadI32(b, l, offsets, {next}));
          Value count = arith::SubIOp::create(b, l, end, start);
          auto rowsOf = [&](Value source, int64_t width) -> Value {
            SmallVector<OpFoldResult> offs = {start, b.getIndexAttr(0)};
            SmallVector<OpFoldResult> sizes = {count, b.getIndexAttr(width)};
            SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
            return tensor::ExtractSliceOp::create(b, l, source, offs, sizes,
                                                  strides);
          };
          SmallVector<OpFoldResult> wOffsets = {expert, b.getIndexAttr(0),
                                                b.getIndexAttr(0)};
          SmallVector<OpFoldResult> wSizes = {
              b.getIndexAttr(1), b.getIndexAttr(k), b.getIndexAttr(p)};
          SmallVector<OpFoldResult> wStrides(3, b.getIndexAttr(1));
          Value w = tensor::ExtractSliceOp::create(
              b, l, tensorType({k, p}, weightType.getElementType()), weight,
              wOffsets, wSizes, wStrides);
          Value acc = rowsOf(it[0], p);
          Value mm = linalg::MatmulOp::create(
                         b, l, ValueRange{rowsOf(input, k), w}, ValueRange{acc})
                         .getResult(0);
          SmallVector<OpFoldResult> offs = {start, b.getIndexAttr(0)};
          SmallVector<OpFoldResult> sizes = {count, b.getIndexAttr(p)};
          SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
          return SmallVector<Value>{tensor::InsertSliceOp::create(
              b, l, mm, it[0], offs, sizes, strides)};
        });
    Value z = product.getResult(0);
    // Every activation maps 0 to 0, so the unused rows stay zeros.
    if (auto activation = op.getActivation())
      z = activateTensor(rewriter, loc, *activation, z);
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
