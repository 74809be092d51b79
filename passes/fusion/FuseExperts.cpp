//===- FuseExperts.cpp - One gather-GEMM-GEMM-scatter computation ---------===//
//
// `moe-fuse-experts`: the expert data path that `moe-materialize-plan`
// leaves (gather rows -> grouped GEMM -> grouped GEMM -> scatter-add) becomes
// one computation with no dispatched copy and the combine weights in the
// down projection's epilogue:
//
// - a grouped GEMM whose input is a gather (its only use) takes the gather's
//   index as its `gather` operand and reads the A rows straight from the
//   tokens;
// - a scatter-add whose rows come from a grouped GEMM (their only use)
//   moves the combine weights into that GEMM's `scale` epilogue (each row's
//   assignment weight) and adds the rows as they are (`prescaled`). The sum
//   per token keeps its order, so results are bitwise those of the unfused
//   path.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/common/RewriteDriver.h"
#include "passes/common/TensorBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEFUSEEXPERTS
#include "passes/Passes.h.inc"

namespace {

struct GatherIntoGroupedMatmul : OpRewritePattern<GroupedMatmulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GroupedMatmulOp op,
                                PatternRewriter &rewriter) const override {
    auto gather = op.getInput().getDefiningOp<GatherRowsOp>();
    if (op.getGather() || !gather || !gather->hasOneUse())
      return failure();
    rewriter.replaceOpWithNewOp<GroupedMatmulOp>(
        op, op.getResult().getType(), gather.getInput(), gather.getIndex(),
        op.getWeight(), op.getOffsets(), op.getBias(), op.getScale(),
        op.getInit(), op.getActivationAttr());
    rewriter.eraseOp(gather);
    return success();
  }
};

/// The weight of each of `rows` rows: `token_weight[g, s, j]` for the
/// assignment whose `token_row[g, s, j]` it is, 0 for a row of none.
Value rowWeights(OpBuilder &b, Location loc, Value tokenRow, Value tokenWeight,
                 int64_t rows) {
  auto type = cast<RankedTensorType>(tokenRow.getType());
  Value init = filledTensor(b, loc, {rows}, b.getF32FloatAttr(0.0));
  // Every assignment's row is its own (rows of none write nothing).
  auto loops = markDisjointIterations(forRange(
      b, loc, type.getDimSize(0), {init},
      [&](OpBuilder &b1, Location l1, Value g, ValueRange it1) {
        return SmallVector<Value>(
            markDisjointIterations(
                forRange(
                    b1, l1, type.getDimSize(1), it1,
                    [&](OpBuilder &b2, Location l2, Value s, ValueRange it2) {
                      return SmallVector<Value>(
                          markDisjointIterations(
                              forRange(
                                  b2, l2, type.getDimSize(2), it2,
                                  [&](OpBuilder &b3, Location l3, Value j,
                                      ValueRange it3) {
                                    Value row = tensor::ExtractOp::create(
                                        b3, l3, tokenRow, ValueRange{g, s, j});
                                    auto ifOp = scf::IfOp::create(
                                        b3, l3, isNone(b3, l3, row),
                                        [&](OpBuilder &tb, Location tl) {
                                          scf::YieldOp::create(tb, tl, it3[0]);
                                        },
                                        [&](OpBuilder &eb, Location el) {
                                          Value w = tensor::ExtractOp::create(
                                              eb, el, tokenWeight,
                                              ValueRange{g, s, j});
                                          scf::YieldOp::create(
                                              eb, el,
                                              Value(tensor::InsertOp::create(
                                                  eb, el, w, it3[0],
                                                  toIndex(eb, el, row))));
                                        });
                                    return SmallVector<Value>{
                                        ifOp.getResult(0)};
                                  }))
                              .getResults());
                    }))
                .getResults());
      }));
  return loops.getResult(0);
}

struct WeightsIntoDownProjection : OpRewritePattern<ScatterAddRowsOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ScatterAddRowsOp op,
                                PatternRewriter &rewriter) const override {
    auto down = op.getRows().getDefiningOp<GroupedMatmulOp>();
    if (op.getPrescaled() || !down || down.getScale() || !down->hasOneUse())
      return failure();
    Location loc = op.getLoc();
    int64_t rows = down.getInit().getType().getDimSize(0);
    if (ShapedType::isDynamic(rows))
      return failure();
    rewriter.setInsertionPoint(down);
    Value scale =
        rowWeights(rewriter, loc, op.getTokenRow(), op.getTokenWeight(), rows);
    auto scaled = GroupedMatmulOp::create(
        rewriter, down.getLoc(), down.getResult().getType(), down.getInput(),
        down.getGather(), down.getWeight(), down.getOffsets(), down.getBias(),
        scale, down.getInit(), down.getActivationAttr());
    rewriter.setInsertionPoint(op);
    rewriter.replaceOpWithNewOp<ScatterAddRowsOp>(
        op, op.getResult().getType(), scaled.getResult(), op.getTokenRow(),
        op.getTokenWeight(), op.getInit(), /*prescaled=*/true);
    rewriter.eraseOp(down);
    return success();
  }
};

struct MoEFuseExpertsPass : impl::MoEFuseExpertsBase<MoEFuseExpertsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<GatherIntoGroupedMatmul, WeightsIntoDownProjection>(
        &getContext());
    if (failed(applyMoEPatterns(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
} // namespace mlir::moe
