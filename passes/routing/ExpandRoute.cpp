//===- ExpandRoute.cpp - moe.route to routing primitives ------------------===//
//
// `moe-expand-route` replaces every `moe.route` by the computation of its
// router (docs/routers.md §4) out of level-2 primitives (`moe.topk`,
// `moe.sinkhorn`, `moe.assign_slots`, `moe.invert_slots`) and linalg
// element-wise ops (`moe.ksparse_ot` for the k-sparse transport plan), ending
// in a concrete plan layout: `moe.slot_plan` (the
// capacity-padded slot table) for the sparse routers, `moe.soft_plan` (dense
// weights) for Soft MoE. No S x E x C tensor is ever built.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/common/RewriteDriver.h"
#include "passes/routing/RoutingScores.h"
#include "passes/common/TensorBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <limits>

namespace mlir::moe {
#define GEN_PASS_DEF_MOEEXPANDROUTE
#include "passes/Passes.h.inc"

namespace {

/// `[G, S, k]` values, keeping position `j` only: `[G, S]`.
Value sliceLastDim(OpBuilder &b, Location loc, Value input, int64_t j) {
  auto type = cast<RankedTensorType>(input.getType());
  int64_t g = type.getDimSize(0), s = type.getDimSize(1);
  auto resultType = tensorType({g, s}, type.getElementType());
  SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), b.getIndexAttr(0),
                                       b.getIndexAttr(j)};
  SmallVector<OpFoldResult> sizes = {b.getIndexAttr(g), b.getIndexAttr(s),
                                     b.getIndexAttr(1)};
  SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(b, loc, resultType, input, offsets,
                                        sizes, strides);
}

/// The combine weight of each assignment: `weights` where it was kept
/// (`slot >= 0`), 0 where it was dropped, NaN for every assignment of an
/// invalid token (docs/routers.md §7: its output is NaN, see the combine
/// ops).
Value keptWeights(OpBuilder &b, Location loc, Value slots, Value weights,
                  Value valid) {
  Value kept = mapElementwise(
      b, loc, {slots, weights}, b.getF32Type(),
      [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        return arith::SelectOp::create(nb, nloc, isNone(nb, nloc, args[0]),
                                       f32Constant(nb, nloc, 0.0), args[1]);
      });
  return whereValid(b, loc, valid, kept,
                    b.getF32FloatAttr(std::numeric_limits<float>::quiet_NaN()));
}

/// The `k` best entries of each row of `[G, R, N]` scores and their indices.
TopKOp topK(OpBuilder &b, Location loc, Value scores, int64_t k) {
  auto type = cast<RankedTensorType>(scores.getType());
  SmallVector<int64_t> shape = {type.getDimSize(0), type.getDimSize(1), k};
  return TopKOp::create(b, loc, tensorType(shape, type.getElementType()),
                        tensorType(shape, b.getI32Type()), scores, k);
}

/// `x[g, s, e] = log u_s + l[s, e] / eps` of the Sinkhorn plan of `logits`
/// (docs/routers.md §4.3), -Inf for the tokens outside the plan: what both
/// Sinkhorn routers rank.
Value sinkhornLogits(OpBuilder &b, Location loc, Value logits, Value valid,
                     SinkhornScoreAttr score) {
  auto type = cast<RankedTensorType>(logits.getType());
  Value logU = SinkhornOp::create(
      b, loc,
      tensorType({type.getDimSize(0), type.getDimSize(1)}, b.getF32Type()),
      logits, b.getI64IntegerAttr(score.getIterations()),
      b.getF64FloatAttr(score.getEpsilonValue()));
  double invEpsilon = 1.0 / score.getEpsilonValue();
  Value x = mapWithReduced(
      b, loc, logits, logU, 2, b.getF32Type(),
      [invEpsilon](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        Value scaled = arith::MulFOp::create(nb, nloc, args[0],
                                             f32Constant(nb, nloc, invEpsilon));
        return arith::AddFOp::create(nb, nloc, args[1], scaled);
      });
  return whereValid(b, loc, valid, x,
                    b.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
}

/// `[G, S, k]` expert choices with `-1` for every choice of an invalid
/// token: it takes no slot (docs/routers.md §7).
Value choicesOfValid(OpBuilder &b, Location loc, Value choices, Value valid) {
  return whereValid(b, loc, valid, choices, b.getI32IntegerAttr(-1));
}

/// Replaces the route `op` by the slot-table plan of the assignment, whose
/// combine weights are `weights` where the assignment was kept, else 0 (NaN
/// for the tokens not `valid`).
void replaceWithSlotPlan(PatternRewriter &rewriter, RouteOp op, Value slotToken,
                         Value tokenSlot, Value weights, Value valid,
                         bool expertChoice) {
  Value tokenWeight =
      keptWeights(rewriter, op.getLoc(), tokenSlot, weights, valid);
  rewriter.replaceOpWithNewOp<SlotPlanOp>(op, op.getPlan().getType(), slotToken,
                                          tokenSlot, tokenWeight, valid,
                                          expertChoice);
}

/// The slot assignment of token choice over `[G, S, k]` choices; returns the
/// slot table and the token slots.
std::pair<Value, Value> assignSlots(OpBuilder &b, Location loc, Value choices,
                                    Value priority, int64_t numExperts,
                                    int64_t capacity) {
  auto type = cast<RankedTensorType>(choices.getType());
  Type i32 = b.getI32Type();
  auto slotTable = tensorType({type.getDimSize(0), numExperts, capacity}, i32);
  auto op = AssignSlotsOp::create(b, loc, slotTable, type, choices, priority);
  return {op.getSlotToken(), op.getTokenSlot()};
}

struct ExpandTokenChoice : OpRewritePattern<RouteOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RouteOp op,
                                PatternRewriter &rewriter) const override {
    auto router = dyn_cast<TokenChoiceAttr>(op.getRouter());
    if (!router)
      return failure();
    Location loc = op.getLoc();
    PlanType plan = op.getPlan().getType();
    Value logits = op.getLogits();
    Value valid = validTokens(rewriter, loc, logits);

    // What top-k ranks, as exact arithmetic would rank the scores: softmax
    // and sigmoid increase with the logit, so the logits themselves;
    // Sinkhorn: -log R of the log-domain plan. The gates give the weights.
    Attribute score = router.getScore();
    auto sinkhorn = dyn_cast<SinkhornScoreAttr>(score);
    bool isSigmoid = isa<SigmoidScoreAttr>(score);
    Value ranked =
        sinkhorn ? sinkhornTokenScores(
                       rewriter, loc,
                       sinkhornLogits(rewriter, loc, logits, valid, sinkhorn))
                 : logits;
    Value gates = isSigmoid ? stableSigmoid(rewriter, loc, logits)
                            : softmax(rewriter, loc, logits, 2);
    TopKOp topk = topK(rewriter, loc, ranked, router.getK());
    Value chosen = topk.getIndices();
    Value gateOfChoice = takeAlongLastDim(rewriter, loc, gates, chosen);
    // Renormalisation is over the k choices, before any is dropped, in the
    // log domain (log softmax is the logit up to a constant, log sigmoid is
    // -softplus(-l)): exp(log w_i - logsumexp_j log w_j) never becomes 0/0.
    Value weights = gateOfChoice;
    if (router.getRenormalize())
      weights = softmax(
          rewriter, loc,
          takeAlongLastDim(
              rewriter, loc,
              isSigmoid ? logSigmoid(rewriter, loc, logits) : logits, chosen),
          2);
    // BPR ranks tokens by their top-1 score: the top-1 gate (softmax), the
    // top-1 logit (sigmoid, increasing) or max_e -log R (Sinkhorn).
    Value priority;
    if (router.getPriority() == Priority::bpr)
      priority = sliceLastDim(
          rewriter, loc,
          sinkhorn || isSigmoid ? topk.getValues() : gateOfChoice, 0);

    auto [slotToken, tokenSlot] =
        assignSlots(rewriter, loc, choicesOfValid(rewriter, loc, chosen, valid),
                    priority, plan.getExperts(), plan.getCapacity());
    replaceWithSlotPlan(rewriter, op, slotToken, tokenSlot, weights, valid,
                        /*expertChoice=*/false);
    return success();
  }
};

/// `slot_token` with `-1` where a slot holds a token that is not `valid`.
Value emptyInvalidSlots(OpBuilder &b, Location loc, Value slotToken,
                        Value valid) {
  auto type = cast<RankedTensorType>(slotToken.getType());
  return generateTensor(
      b, loc, type.getShape(), type.getElementType(),
      [&](OpBuilder &nb, Location nloc, ValueRange at) -> Value {
        Value token = tensor::ExtractOp::create(nb, nloc, slotToken, at);
        Value isValid = tensor::ExtractOp::create(
            nb, nloc, valid, ValueRange{at[0], clampedIndex(nb, nloc, token)});
        Value keep = arith::AndIOp::create(
            nb, nloc, isValid,
            arith::XOrIOp::create(
                nb, nloc, isNone(nb, nloc, token),
                arith::ConstantOp::create(nb, nloc, nb.getBoolAttr(true))));
        return arith::SelectOp::create(nb, nloc, keep, token,
                                       i32Constant(nb, nloc, -1));
      });
}

struct ExpandExpertChoice : OpRewritePattern<RouteOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RouteOp op,
                                PatternRewriter &rewriter) const override {
    auto router = dyn_cast<ExpertChoiceAttr>(op.getRouter());
    if (!router)
      return failure();
    Attribute score = router.getScore();
    Location loc = op.getLoc();
    PlanType plan = op.getPlan().getType();
    Value logits = op.getLogits();
    auto logitsType = cast<RankedTensorType>(logits.getType());
    int64_t g = logitsType.getDimSize(0), s = logitsType.getDimSize(1),
            e = logitsType.getDimSize(2), c = plan.getCapacity();
    Type i32 = rewriter.getI32Type();
    Value valid = validTokens(rewriter, loc, logits);

    Value gates = softmax(rewriter, loc, logits, 2);
    Value scores = gates;
    if (auto sinkhorn = dyn_cast<SinkhornScoreAttr>(score))
      scores = sinkhornLogits(rewriter, loc, logits, valid, sinkhorn);
    else if (auto ksparse = dyn_cast<KSparseOTScoreAttr>(score))
      scores = KSparseOTOp::create(
          rewriter, loc, tensorType({g, s, e}, rewriter.getF64Type()), logits,
          rewriter.getI64IntegerAttr(c),
          rewriter.getI64IntegerAttr(ksparse.getIterations()),
          rewriter.getF64FloatAttr(ksparse.getLearningRateValue()));
    // Invalid tokens rank below every valid one (NaN ranks last) and then
    // leave their slots empty.
    Type scoreType = cast<RankedTensorType>(scores.getType()).getElementType();
    scores =
        whereValid(rewriter, loc, valid, scores,
                   rewriter.getFloatAttr(
                       scoreType, std::numeric_limits<double>::quiet_NaN()));
    // Each expert ranks the tokens: top-C along tokens of [G, E, S] (f64
    // for the k-sparse plan, whose zeros tie).
    TopKOp topk = topK(rewriter, loc, swapLastDims(rewriter, loc, scores), c);
    Value slotToken =
        emptyInvalidSlots(rewriter, loc, topk.getIndices(), valid);
    Value tokenSlot = InvertSlotsOp::create(
        rewriter, loc, tensorType({g, s, e}, i32), slotToken);
    replaceWithSlotPlan(rewriter, op, slotToken, tokenSlot, gates, valid,
                        /*expertChoice=*/true);
    return success();
  }
};

struct ExpandSoft : OpRewritePattern<RouteOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RouteOp op,
                                PatternRewriter &rewriter) const override {
    if (!isa<SoftAttr>(op.getRouter()))
      return failure();
    Location loc = op.getLoc();
    Value logits = op.getLogits();
    Value valid = validTokens(rewriter, loc, logits);
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    // Dispatch weights: softmax over the valid tokens of a group, per slot
    // (0 in every slot when a group has none). Combine weights: softmax over
    // all slots, per token; NaN for an invalid token.
    Value dispatchLogits = whereValid(
        rewriter, loc, valid, logits,
        rewriter.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
    Value dispatch = mapElementwise(
        rewriter, loc, softmax(rewriter, loc, dispatchLogits, 1),
        rewriter.getF32Type(),
        [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
          Value isNaN = arith::CmpFOp::create(
              nb, nloc, arith::CmpFPredicate::UNO, args[0], args[0]);
          return arith::SelectOp::create(nb, nloc, isNaN,
                                         f32Constant(nb, nloc, 0.0), args[0]);
        });
    Value combine =
        whereValid(rewriter, loc, valid, softmax(rewriter, loc, logits, 2),
                   rewriter.getF32FloatAttr(nan));
    rewriter.replaceOpWithNewOp<SoftPlanOp>(op, op.getPlan().getType(),
                                            dispatch, combine, valid);
    return success();
  }
};

/// Pools `[G, S, E]` logits to `[G, I, E]` items of `T` tokens.
Value poolItems(OpBuilder &b, Location loc, Value logits, int64_t tokensPerItem,
                Pooling pooling) {
  auto type = cast<RankedTensorType>(logits.getType());
  int64_t g = type.getDimSize(0), s = type.getDimSize(1),
          e = type.getDimSize(2), items = s / tokensPerItem;
  auto pooledType = tensorType({g, items, e}, b.getF32Type());
  if (pooling == Pooling::cls) {
    // The item's first token: a strided slice.
    SmallVector<OpFoldResult> offsets(3, b.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(g), b.getIndexAttr(items),
                                       b.getIndexAttr(e)};
    SmallVector<OpFoldResult> strides = {
        b.getIndexAttr(1), b.getIndexAttr(tokensPerItem), b.getIndexAttr(1)};
    return tensor::ExtractSliceOp::create(b, loc, pooledType, logits, offsets,
                                          sizes, strides);
  }
  // Mean over the item's tokens: view [G, I, T, E], sum over T, divide.
  auto itemsType = tensorType({g, items, tokensPerItem, e}, b.getF32Type());
  Value byItem = tensor::ExpandShapeOp::create(
      b, loc, itemsType, logits,
      ArrayRef<ReassociationIndices>{{0}, {1, 2}, {3}});
  Value sum = sumDim(b, loc, byItem, 2);
  return scaleBy(b, loc, sum, 1.0 / static_cast<double>(tokensPerItem));
}

struct ExpandPerImage : OpRewritePattern<RouteOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RouteOp op,
                                PatternRewriter &rewriter) const override {
    auto router = dyn_cast<PerImageAttr>(op.getRouter());
    if (!router)
      return failure();
    Location loc = op.getLoc();
    PlanType plan = op.getPlan().getType();
    int64_t t = router.getTokensPerItem(), k = router.getK();
    int64_t g = plan.getGroups(), s = plan.getTokens(), e = plan.getExperts();
    int64_t c = plan.getCapacity(), itemCapacity = c / t;
    Type f32 = rewriter.getF32Type(), i32 = rewriter.getI32Type();

    // An item is valid when all its tokens are and so is its pooled row
    // (mean pooling can make every expert -Inf).
    Value pooled =
        poolItems(rewriter, loc, op.getLogits(), t, router.getPooling());
    Value tokenValid = validTokens(rewriter, loc, op.getLogits());
    Value allTokensValid = reduceDim(
        rewriter, loc,
        tensor::ExpandShapeOp::create(
            rewriter, loc, tensorType({g, s / t, t}, rewriter.getI1Type()),
            tokenValid, ArrayRef<ReassociationIndices>{{0}, {1, 2}}),
        2, rewriter.getBoolAttr(true),
        [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
          return arith::AndIOp::create(nb, nloc, args[0], args[1]);
        });
    Value itemValid = mapElementwise(
        rewriter, loc, {allTokensValid, validTokens(rewriter, loc, pooled)},
        rewriter.getI1Type(),
        [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
          return arith::AndIOp::create(nb, nloc, args[0], args[1]);
        });
    // Route the items as softmax token choice with position priority,
    // ranking the pooled logits (softmax increases with them).
    Value gates = softmax(rewriter, loc, pooled, 2);
    TopKOp topk = topK(rewriter, loc, pooled, k);
    Value itemWeights =
        takeAlongLastDim(rewriter, loc, gates, topk.getIndices());
    auto [slotItem, itemSlot] =
        assignSlots(rewriter, loc,
                    choicesOfValid(rewriter, loc, topk.getIndices(), itemValid),
                    Value(), e, itemCapacity);

    // Expand items to their tokens: item slot ci of expert e holds token
    // slots [ci * T, (ci + 1) * T).
    auto idx = [&](OpBuilder &nb, Location nloc, int64_t v) {
      return indexConstant(nb, nloc, v);
    };
    Value slotToken = generateTensor(
        rewriter, loc, {g, e, c}, i32,
        [&](OpBuilder &nb, Location nloc, ValueRange at) -> Value {
          Value tv = idx(nb, nloc, t);
          Value ci = arith::DivUIOp::create(nb, nloc, at[2], tv);
          Value within = arith::RemUIOp::create(nb, nloc, at[2], tv);
          Value item = tensor::ExtractOp::create(nb, nloc, slotItem,
                                                 ValueRange{at[0], at[1], ci});
          Value first =
              arith::MulIOp::create(nb, nloc, toIndex(nb, nloc, item), tv);
          Value token =
              toI32(nb, nloc, arith::AddIOp::create(nb, nloc, first, within));
          return arith::SelectOp::create(nb, nloc, isNone(nb, nloc, item), item,
                                         token);
        });
    Value tokenSlot = generateTensor(
        rewriter, loc, {g, s, k}, i32,
        [&](OpBuilder &nb, Location nloc, ValueRange at) -> Value {
          Value tv = idx(nb, nloc, t);
          Value item = arith::DivUIOp::create(nb, nloc, at[1], tv);
          Value within = arith::RemUIOp::create(nb, nloc, at[1], tv);
          Value slot = tensor::ExtractOp::create(
              nb, nloc, itemSlot, ValueRange{at[0], item, at[2]});
          Value slotIndex = toIndex(nb, nloc, slot);
          Value civ = idx(nb, nloc, itemCapacity);
          Value expert = arith::DivUIOp::create(nb, nloc, slotIndex, civ);
          Value ci = arith::RemUIOp::create(nb, nloc, slotIndex, civ);
          Value flat = arith::AddIOp::create(
              nb, nloc,
              arith::MulIOp::create(nb, nloc, expert, idx(nb, nloc, c)),
              arith::AddIOp::create(
                  nb, nloc, arith::MulIOp::create(nb, nloc, ci, tv), within));
          return arith::SelectOp::create(nb, nloc, isNone(nb, nloc, slot), slot,
                                         toI32(nb, nloc, flat));
        });
    // Every token of an item has the item's gate as its weight.
    Value tokenWeights = generateTensor(
        rewriter, loc, {g, s, k}, f32,
        [&](OpBuilder &nb, Location nloc, ValueRange at) -> Value {
          Value item =
              arith::DivUIOp::create(nb, nloc, at[1], idx(nb, nloc, t));
          return tensor::ExtractOp::create(nb, nloc, itemWeights,
                                           ValueRange{at[0], item, at[2]});
        });
    Value valid = generateTensor(
        rewriter, loc, {g, s}, rewriter.getI1Type(),
        [&](OpBuilder &nb, Location nloc, ValueRange at) -> Value {
          Value item =
              arith::DivUIOp::create(nb, nloc, at[1], idx(nb, nloc, t));
          return tensor::ExtractOp::create(nb, nloc, itemValid,
                                           ValueRange{at[0], item});
        });
    replaceWithSlotPlan(rewriter, op, slotToken, tokenSlot, tokenWeights, valid,
                        /*expertChoice=*/false);
    return success();
  }
};

struct MoEExpandRoutePass : impl::MoEExpandRouteBase<MoEExpandRoutePass> {
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    RewritePatternSet patterns(context);
    patterns
        .add<ExpandTokenChoice, ExpandExpertChoice, ExpandSoft, ExpandPerImage>(
            context);
    if (failed(applyMoEPatterns(getOperation(), std::move(patterns))))
      return signalPassFailure();
    // A route left over has a router without a lowering: say so, at it.
    WalkResult result = getOperation()->walk([](RouteOp op) {
      op.emitOpError() << "router " << op.getRouter() << " has no lowering yet";
      return WalkResult::interrupt();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
} // namespace mlir::moe
