//===- MaterializePlan.cpp - Plan users onto the plan's layout ------------===//
//
// `moe-materialize-plan`: once `moe-expand-route` has given each plan a
// concrete layout, the ops that consume the plan (dispatch, combine,
// route_stats, plan_slots) are rewritten onto the layout's tensors; a
// slot-table plan's expert chain may take the sorted/ragged layout instead.
// After this pass no `!moe.plan` value is used any more.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/common/RewriteDriver.h"
#include "passes/common/TensorBuilders.h"
#include "passes/routing/RoutingScores.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEMATERIALIZEPLAN
#include "passes/Passes.h.inc"

namespace {

/// `[G, S, d]` tokens as the `[G * S, d]` rows the data path gathers from.
Value tokenRows(OpBuilder &b, Location loc, Value tokens) {
  auto type = cast<RankedTensorType>(tokens.getType());
  return tensor::CollapseShapeOp::create(
      b, loc,
      tensorType({type.getDimSize(0) * type.getDimSize(1), type.getDimSize(2)},
                 type.getElementType()),
      tokens, ArrayRef<ReassociationIndices>{{0, 1}, {2}});
}

/// The padded layout's rows, expert-major (`e * G * C + g * C + c`): the
/// token of each as a row of the `[G * S, d]` tokens, `-1` for an empty slot.
/// `[E * G * C]`.
Value paddedRowTokens(OpBuilder &b, Location loc, Value slotToken,
                      int64_t tokens) {
  auto type = cast<RankedTensorType>(slotToken.getType());
  int64_t g = type.getDimSize(0), e = type.getDimSize(1),
          c = type.getDimSize(2);
  Value table = generateTensor(
      b, loc, {e, g, c}, b.getI32Type(),
      [&](OpBuilder &nb, Location l, ValueRange at) -> Value {
        Value token = tensor::ExtractOp::create(
            nb, l, slotToken, ValueRange{at[1], at[0], at[2]});
        Value flat = arith::AddIOp::create(
            nb, l, token,
            toI32(nb, l,
                  arith::MulIOp::create(nb, l, at[1],
                                        indexConstant(nb, l, tokens))));
        return arith::SelectOp::create(nb, l, isNone(nb, l, token), token,
                                       flat);
      });
  return tensor::CollapseShapeOp::create(
      b, loc, tensorType({e * g * c}, b.getI32Type()), table,
      ArrayRef<ReassociationIndices>{{0, 1, 2}});
}

/// The padded row of each assignment (`token_slot = e * C + c` of group `g`
/// is row `e * G * C + g * C + c`), `-1` for none: `[G, S, J]`.
Value paddedTokenRows(OpBuilder &b, Location loc, Value tokenSlot,
                      int64_t capacity) {
  auto type = cast<RankedTensorType>(tokenSlot.getType());
  int64_t groups = type.getDimSize(0);
  return generateTensor(
      b, loc, type.getShape(), b.getI32Type(),
      [&](OpBuilder &nb, Location l, ValueRange at) -> Value {
        Value slot = tensor::ExtractOp::create(nb, l, tokenSlot, at);
        Value flat = clampedIndex(nb, l, slot);
        Value cv = indexConstant(nb, l, capacity);
        Value expert = arith::DivUIOp::create(nb, l, flat, cv);
        Value within = arith::RemUIOp::create(nb, l, flat, cv);
        Value row = arith::AddIOp::create(
            nb, l,
            arith::MulIOp::create(nb, l, expert,
                                  indexConstant(nb, l, groups * capacity)),
            arith::AddIOp::create(
                nb, l, arith::MulIOp::create(nb, l, at[0], cv), within));
        return arith::SelectOp::create(nb, l, isNone(nb, l, slot), slot,
                                       toI32(nb, l, row));
      });
}

/// `scatter_add_rows rows, token_row, token_weight` into zeros `[G, S, d]`.
Value scatterIntoTokens(OpBuilder &b, Location loc, RankedTensorType outType,
                        Value rows, Value tokenRow, Value tokenWeight) {
  Value zeros = filledTensor(b, loc, outType.getShape(),
                             b.getFloatAttr(outType.getElementType(), 0.0));
  return ScatterAddRowsOp::create(b, loc, outType, rows, tokenRow, tokenWeight,
                                  zeros, /*prescaled=*/false);
}

struct DispatchOnSlotTable : OpRewritePattern<DispatchOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(DispatchOp op,
                                PatternRewriter &rewriter) const override {
    auto plan = op.getPlan().getDefiningOp<SlotPlanOp>();
    if (!plan)
      return failure();
    Location loc = op.getLoc();
    auto slotsType = op.getSlots().getType();
    int64_t e = slotsType.getDimSize(0),
            rowsPerExpert = slotsType.getDimSize(1),
            d = slotsType.getDimSize(2);
    Value index = paddedRowTokens(rewriter, loc, plan.getSlotToken(),
                                  op.getInput().getType().getDimSize(1));
    auto rowsType =
        tensorType({e * rowsPerExpert, d}, slotsType.getElementType());
    Value rows = GatherRowsOp::create(
        rewriter, loc, rowsType, tokenRows(rewriter, loc, op.getInput()), index,
        emptyTensor(rewriter, loc, rowsType.getShape(),
                    rowsType.getElementType()));
    rewriter.replaceOpWithNewOp<tensor::ExpandShapeOp>(
        op, slotsType, rows, ArrayRef<ReassociationIndices>{{0, 1}, {2}});
    return success();
  }
};

struct CombineOnSlotTable : OpRewritePattern<CombineOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(CombineOp op,
                                PatternRewriter &rewriter) const override {
    auto plan = op.getPlan().getDefiningOp<SlotPlanOp>();
    if (!plan)
      return failure();
    Location loc = op.getLoc();
    auto slotsType = op.getSlots().getType();
    Value rows = tensor::CollapseShapeOp::create(
        rewriter, loc,
        tensorType({slotsType.getDimSize(0) * slotsType.getDimSize(1),
                    slotsType.getDimSize(2)},
                   slotsType.getElementType()),
        op.getSlots(), ArrayRef<ReassociationIndices>{{0, 1}, {2}});
    Value tokenRow = paddedTokenRows(rewriter, loc, plan.getTokenSlot(),
                                     plan.getPlan().getType().getCapacity());
    rewriter.replaceOp(op, scatterIntoTokens(rewriter, loc,
                                             op.getOutput().getType(), rows,
                                             tokenRow, plan.getTokenWeight()));
    return success();
  }
};

/// `value` with its dimensions permuted: result dimension i is `value`'s
/// dimension `permutation[i]` (a copy, `linalg.transpose`).
Value transposed(OpBuilder &b, Location loc, Value value,
                 ArrayRef<int64_t> permutation) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<int64_t> shape;
  for (int64_t dim : permutation)
    shape.push_back(type.getDimSize(dim));
  Value init = emptyTensor(b, loc, shape, type.getElementType());
  return linalg::TransposeOp::create(b, loc, value, init, permutation)
      .getResult()[0];
}

struct DispatchOnSoftWeights : OpRewritePattern<DispatchOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(DispatchOp op,
                                PatternRewriter &rewriter) const override {
    auto plan = op.getPlan().getDefiningOp<SoftPlanOp>();
    if (!plan)
      return failure();
    Location loc = op.getLoc();
    PlanType planType = plan.getPlan().getType();
    int64_t g = planType.getGroups(), e = planType.getExperts(),
            p = planType.getCapacity();
    auto inputType = op.getInput().getType();
    int64_t d = inputType.getDimSize(2);
    Type elementType = inputType.getElementType();
    // An invalid token has dispatch weight 0, but its features may be NaN or
    // Inf (0 * NaN is NaN): it is left out of the sums.
    Value input = whereValid(rewriter, loc, plan.getTokenValid(), op.getInput(),
                             rewriter.getFloatAttr(elementType, 0.0));
    // A GEMM per group, the summed dimension the tokens:
    // slots[g, e * p + q, i] = sum_s D[g, s, e * p + q] * x[g, s, i],
    // then expert-major: [G, E, p, d] -> [E, G * p, d].
    Value dispatchT = transposed(rewriter, loc, plan.getDispatch(), {0, 2, 1});
    Value init = filledTensor(rewriter, loc, {g, e * p, d},
                              rewriter.getFloatAttr(elementType, 0.0));
    Value perGroup = linalg::BatchMatmulOp::create(
                         rewriter, loc, ValueRange{dispatchT, input}, init)
                         .getResult(0);
    Value split = tensor::ExpandShapeOp::create(
        rewriter, loc, tensorType({g, e, p, d}, elementType), perGroup,
        ArrayRef<ReassociationIndices>{{0}, {1, 2}, {3}});
    Value slots4 = transposed(rewriter, loc, split, {1, 0, 2, 3});
    rewriter.replaceOpWithNewOp<tensor::CollapseShapeOp>(
        op, op.getSlots().getType(), slots4,
        ArrayRef<ReassociationIndices>{{0}, {1, 2}, {3}});
    return success();
  }
};

struct CombineOnSoftWeights : OpRewritePattern<CombineOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(CombineOp op,
                                PatternRewriter &rewriter) const override {
    auto plan = op.getPlan().getDefiningOp<SoftPlanOp>();
    if (!plan)
      return failure();
    Location loc = op.getLoc();
    PlanType planType = plan.getPlan().getType();
    int64_t g = planType.getGroups(), s = planType.getTokens(),
            e = planType.getExperts(), p = planType.getCapacity();
    auto slotsType = op.getSlots().getType();
    int64_t d = slotsType.getDimSize(2);
    Type elementType = slotsType.getElementType();
    // A GEMM per group, the summed dimension the slots (experts in
    // increasing order): out[g, s, i] = sum_{e, q} W[g, s, e * p + q] *
    // slots[e, g * p + q, i], the slots group-major first.
    Value slots = tensor::ExpandShapeOp::create(
        rewriter, loc, RankedTensorType::get({e, g, p, d}, elementType),
        op.getSlots(), ArrayRef<ReassociationIndices>{{0}, {1, 2}, {3}});
    Value byGroup = tensor::CollapseShapeOp::create(
        rewriter, loc, tensorType({g, e * p, d}, elementType),
        transposed(rewriter, loc, slots, {1, 0, 2, 3}),
        ArrayRef<ReassociationIndices>{{0}, {1, 2}, {3}});
    Value init = filledTensor(rewriter, loc, {g, s, d},
                              rewriter.getFloatAttr(elementType, 0.0));
    Value output =
        linalg::BatchMatmulOp::create(
            rewriter, loc, ValueRange{plan.getCombine(), byGroup}, init)
            .getResult(0);
    rewriter.replaceOp(op, output);
    return success();
  }
};

/// Counts, over `dim`, the elements of an integer tensor for which
/// `pred(x, 0)` holds, as i64.
Value countWhere(OpBuilder &b, Location loc, Value input, int64_t dim,
                 arith::CmpIPredicate pred) {
  Type elementType = cast<RankedTensorType>(input.getType()).getElementType();
  return reduceDim(b, loc, input, dim, b.getI64IntegerAttr(0),
                   [=](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
                     Value zero = arith::ConstantOp::create(
                         nb, nloc, nb.getIntegerAttr(elementType, 0));
                     Value hit =
                         arith::CmpIOp::create(nb, nloc, pred, args[1], zero);
                     Value one =
                         arith::ExtUIOp::create(nb, nloc, nb.getI64Type(), hit);
                     return arith::AddIOp::create(nb, nloc, args[0], one);
                   });
}

/// `CV(Imp)^2` per group, `Imp_e = sum_s softmax(logits)[s, e]` over the
/// valid tokens, population variance (docs/routers.md §5).
Value importanceLoss(OpBuilder &b, Location loc, Value logits, Value valid) {
  auto type = cast<RankedTensorType>(logits.getType());
  double numExperts = static_cast<double>(type.getDimSize(2));
  Value gates = whereValid(b, loc, valid, softmax(b, loc, logits, 2),
                           b.getF32FloatAttr(0.0));
  Value importance = sumDim(b, loc, gates, 1); // [G, E]
  Value mean = scaleBy(b, loc, sumDim(b, loc, importance, 1), 1.0 / numExperts);
  Value squaredDeviation = mapWithReduced(
      b, loc, importance, mean, 1, b.getF32Type(),
      [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        Value dev = arith::SubFOp::create(nb, nloc, args[0], args[1]);
        return arith::MulFOp::create(nb, nloc, dev, dev);
      });
  Value variance =
      scaleBy(b, loc, sumDim(b, loc, squaredDeviation, 1), 1.0 / numExperts);
  return mapElementwise(
      b, loc, {variance, mean}, b.getF32Type(),
      [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        Value meanSquared = arith::MulFOp::create(nb, nloc, args[1], args[1]);
        return arith::DivFOp::create(nb, nloc, args[0], meanSquared);
      });
}

/// The number of `true` elements of `[G, S]` flags per group, as i64.
Value countTrue(OpBuilder &b, Location loc, Value flags) {
  return reduceDim(b, loc, flags, 1, b.getI64IntegerAttr(0),
                   [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
                     Value one = arith::ExtUIOp::create(
                         nb, nloc, nb.getI64Type(), args[1]);
                     return arith::AddIOp::create(nb, nloc, args[0], one);
                   });
}

struct StatsOnSlotTable : OpRewritePattern<RouteStatsOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RouteStatsOp op,
                                PatternRewriter &rewriter) const override {
    auto plan = op.getPlan().getDefiningOp<SlotPlanOp>();
    if (!plan)
      return failure();
    Location loc = op.getLoc();
    // Everything but the invalid count is over the valid tokens, which take
    // no slot (docs/routers.md §7).
    Value valid = plan.getTokenValid();
    Value loss = importanceLoss(rewriter, loc, op.getLogits(), valid);
    Value load = countWhere(rewriter, loc, plan.getSlotToken(), 2,
                            arith::CmpIPredicate::sge); // [G, E]
    Value tokenSlot = plan.getTokenSlot();
    Value zeroPerToken = filledTensor(
        rewriter, loc, cast<RankedTensorType>(valid.getType()).getShape(),
        rewriter.getI64IntegerAttr(0));
    auto overValid = [&](Value perToken) {
      return sumDim(rewriter, loc,
                    whereValid(rewriter, loc, valid, perToken,
                               rewriter.getI64IntegerAttr(0)),
                    1);
    };
    // Expert choice drops no choice: a -1 there is an expert that did not
    // pick the token.
    Value dropped = overValid(plan.getExpertChoice()
                                  ? zeroPerToken
                                  : countWhere(rewriter, loc, tokenSlot, 2,
                                               arith::CmpIPredicate::slt));
    // A token is lost when none of its assignments was kept.
    Value keptPerToken =
        countWhere(rewriter, loc, tokenSlot, 2, arith::CmpIPredicate::sge);
    Value lost = mapElementwise(
        rewriter, loc, keptPerToken, rewriter.getI64Type(),
        [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
          Value none = arith::CmpIOp::create(
              nb, nloc, arith::CmpIPredicate::eq, args[0],
              arith::ConstantOp::create(nb, nloc, nb.getI64IntegerAttr(0)));
          return arith::ExtUIOp::create(nb, nloc, nb.getI64Type(), none);
        });
    SmallVector<Value> results = {loss, load, dropped, overValid(lost)};
    if (op.getInvalidTokens()) {
      Value invalid = mapElementwise(
          rewriter, loc, valid, rewriter.getI1Type(),
          [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
            return arith::XOrIOp::create(
                nb, nloc, args[0],
                arith::ConstantOp::create(nb, nloc, nb.getBoolAttr(true)));
          });
      results.push_back(countTrue(rewriter, loc, invalid));
    }
    rewriter.replaceOp(op, results);
    return success();
  }
};

/// The combine weight of the token in each slot of a slot table, 0 where the
/// slot is empty: `[G, E, C]`.
Value slotWeights(OpBuilder &b, Location loc, SlotPlanOp plan) {
  PlanType planType = plan.getPlan().getType();
  int64_t g = planType.getGroups(), e = planType.getExperts(),
          c = planType.getCapacity();
  auto choicesType = cast<RankedTensorType>(plan.getTokenSlot().getType());
  int64_t choices = choicesType.getDimSize(2);
  Value slotToken = plan.getSlotToken(), tokenSlot = plan.getTokenSlot(),
        tokenWeight = plan.getTokenWeight();
  bool expertChoice = plan.getExpertChoice();
  return generateTensor(
      b, loc, {g, e, c}, b.getF32Type(),
      [&](OpBuilder &nb, Location nloc, ValueRange at) -> Value {
        Value token = tensor::ExtractOp::create(nb, nloc, slotToken, at);
        Value zero = f32Constant(nb, nloc, 0.0);
        Value empty = isNone(nb, nloc, token);
        // An empty slot reads token 0's entries and discards them.
        Value s = clampedIndex(nb, nloc, token);
        Value weight;
        if (expertChoice) {
          // Expert e's assignment of a token is its entry e.
          weight = tensor::ExtractOp::create(nb, nloc, tokenWeight,
                                             ValueRange{at[0], s, at[1]});
        } else {
          // The token's choice that landed in this slot.
          Value flat =
              toI32(nb, nloc,
                    arith::AddIOp::create(
                        nb, nloc,
                        arith::MulIOp::create(nb, nloc, at[1],
                                              indexConstant(nb, nloc, c)),
                        at[2]));
          auto loop = forRange(
              nb, nloc, choices, ValueRange{zero},
              [&](OpBuilder &lb, Location lloc, Value j, ValueRange acc) {
                Value slot = tensor::ExtractOp::create(lb, lloc, tokenSlot,
                                                       ValueRange{at[0], s, j});
                Value here = arith::CmpIOp::create(
                    lb, lloc, arith::CmpIPredicate::eq, slot, flat);
                Value w = tensor::ExtractOp::create(lb, lloc, tokenWeight,
                                                    ValueRange{at[0], s, j});
                return SmallVector<Value>{
                    arith::SelectOp::create(lb, lloc, here, w, acc[0])};
              });
          weight = loop.getResult(0);
        }
        return arith::SelectOp::create(nb, nloc, empty, zero, weight);
      });
}

struct PlanSlotsOnSlotTable : OpRewritePattern<PlanSlotsOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(PlanSlotsOp op,
                                PatternRewriter &rewriter) const override {
    auto plan = op.getPlan().getDefiningOp<SlotPlanOp>();
    if (!plan)
      return failure();
    Location loc = op.getLoc();
    Value tokens = mapElementwise(
        rewriter, loc, plan.getSlotToken(), rewriter.getI64Type(),
        [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
          return arith::ExtSIOp::create(nb, nloc, nb.getI64Type(), args[0]);
        });
    rewriter.replaceOp(op, {tokens, slotWeights(rewriter, loc, plan)});
    return success();
  }
};

//===----------------------------------------------------------------------===//
// The sorted layout
//===----------------------------------------------------------------------===//

/// The MLP chain `dispatch -> experts -> combine` of one slot-table plan.
struct ExpertChain {
  SlotPlanOp plan;
  DispatchOp dispatch;
  ExpertsOp experts;
  CombineOp combine;
};

/// The chain ending in `combine` if the data path (gather, grouped GEMMs,
/// scatter-add) can replace it: MLP experts whose weights share the tokens'
/// element type, and no other user of the dispatched slots or the expert
/// outputs.
std::optional<ExpertChain> expertChain(CombineOp combine) {
  auto plan = combine.getPlan().getDefiningOp<SlotPlanOp>();
  auto experts = combine.getSlots().getDefiningOp<ExpertsOp>();
  if (!plan || !experts || !experts.isMLP() || !experts->hasOneUse())
    return std::nullopt;
  auto dispatch = experts.getInput().getDefiningOp<DispatchOp>();
  if (!dispatch || dispatch.getPlan() != combine.getPlan() ||
      !dispatch->hasOneUse())
    return std::nullopt;
  Type elementType = dispatch.getInput().getType().getElementType();
  for (Value v : {experts.getUpWeight(), experts.getUpBias(),
                  experts.getDownWeight(), experts.getDownBias()})
    if (v &&
        cast<RankedTensorType>(v.getType()).getElementType() != elementType)
      return std::nullopt;
  return ExpertChain{plan, dispatch, experts, combine};
}

/// The most slots `plan` can fill: every assignment, or every slot.
int64_t fillableSlots(SlotPlanOp plan) {
  PlanType type = plan.getPlan().getType();
  int64_t choices =
      cast<RankedTensorType>(plan.getTokenSlot().getType()).getDimSize(2);
  return std::min(type.getGroups() * type.getTokens() * choices,
                  type.getGroups() * type.getExperts() * type.getCapacity());
}

/// Sorted when some slots of the padded layout must stay empty: its expert
/// GEMMs would compute them. (Measured on the standard layers: 5.6% empty
/// slots cost L1 6% at 1 and 2 threads; with none, as in expert choice,
/// the sort costs L4 12%.)
bool prefersSorted(SlotPlanOp plan) {
  PlanType type = plan.getPlan().getType();
  int64_t padded = type.getGroups() * type.getExperts() * type.getCapacity();
  return padded > fillableSlots(plan);
}

/// The rows of a chain's data path: each row's token, the groups' offsets
/// and each assignment's row.
struct RowTables {
  int64_t rows;
  Value rowToken, offsets, tokenRow;
};

/// The sorted layout: the occupied slots, sorted by expert (moe.sort_slots).
RowTables sortedRows(OpBuilder &b, Location loc, SlotPlanOp plan) {
  int64_t rows = fillableSlots(plan);
  int64_t numExperts = plan.getPlan().getType().getExperts();
  Type i32 = b.getI32Type();
  auto sort = SortSlotsOp::create(
      b, loc, tensorType({rows}, i32), tensorType({numExperts + 1}, i32),
      plan.getTokenSlot().getType(), plan.getSlotToken(), plan.getTokenSlot());
  return {rows, sort.getRowToken(), sort.getExpertOffsets(),
          sort.getTokenRow()};
}

/// The padded layout: every slot, `G * C` rows per expert (constant
/// offsets).
RowTables paddedRows(OpBuilder &b, Location loc, SlotPlanOp plan) {
  PlanType type = plan.getPlan().getType();
  int64_t e = type.getExperts(),
          perExpert = type.getGroups() * type.getCapacity();
  SmallVector<int32_t> offsets;
  for (int64_t i = 0; i <= e; ++i)
    offsets.push_back(static_cast<int32_t>(i * perExpert));
  auto offsetsType = tensorType({e + 1}, b.getI32Type());
  Value offsetsValue = arith::ConstantOp::create(
      b, loc, DenseIntElementsAttr::get(offsetsType, ArrayRef(offsets)));
  return {e * perExpert,
          paddedRowTokens(b, loc, plan.getSlotToken(), type.getTokens()),
          offsetsValue,
          paddedTokenRows(b, loc, plan.getTokenSlot(), type.getCapacity())};
}

/// Replaces the chain by the data path: gather, two grouped GEMMs (bias
/// and activation as epilogue), scatter-add into the tokens.
void rewriteChain(RewriterBase &rewriter, ExpertChain chain, bool sorted) {
  SlotPlanOp plan = chain.plan;
  ExpertsOp experts = chain.experts;
  Location loc = chain.combine.getLoc();
  rewriter.setInsertionPoint(chain.combine);
  RowTables tables = sorted ? sortedRows(rewriter, loc, plan)
                            : paddedRows(rewriter, loc, plan);
  TypedValue<RankedTensorType> x = chain.dispatch.getInput();
  Type elementType = x.getType().getElementType();
  int64_t d = x.getType().getDimSize(2);
  auto rowsOf = [&](int64_t width) {
    return emptyTensor(rewriter, loc, {tables.rows, width}, elementType);
  };
  Value gathered = GatherRowsOp::create(
      rewriter, chain.dispatch.getLoc(),
      tensorType({tables.rows, d}, elementType), tokenRows(rewriter, loc, x),
      tables.rowToken, rowsOf(d));
  Activation activation = *experts.getActivation();
  auto upType = cast<RankedTensorType>(experts.getUpWeight().getType());
  int64_t hidden = upType.getDimSize(2);
  if (activation == Activation::swiglu)
    hidden /= 2;
  auto activationAttr = ActivationAttr::get(rewriter.getContext(), activation);
  Value h = GroupedMatmulOp::create(
      rewriter, experts.getLoc(),
      tensorType({tables.rows, hidden}, elementType), gathered, Value(),
      experts.getUpWeight(), tables.offsets, experts.getUpBias(), Value(),
      rowsOf(hidden), activationAttr);
  int64_t dOut = experts.getResult().getType().getDimSize(2);
  Value y = GroupedMatmulOp::create(
      rewriter, experts.getLoc(), tensorType({tables.rows, dOut}, elementType),
      h, Value(), experts.getDownWeight(), tables.offsets,
      experts.getDownBias(), Value(), rowsOf(dOut), ActivationAttr());
  rewriter.replaceOp(chain.combine,
                     scatterIntoTokens(rewriter, loc,
                                       chain.combine.getOutput().getType(), y,
                                       tables.tokenRow, plan.getTokenWeight()));
  rewriter.eraseOp(experts);
  rewriter.eraseOp(chain.dispatch);
}

struct MoEMaterializePlanPass
    : impl::MoEMaterializePlanBase<MoEMaterializePlanPass> {
  using MoEMaterializePlanBase::MoEMaterializePlanBase;

  LogicalResult initialize(MLIRContext *context) override {
    if (isPlanLayout(layout))
      return success();
    return emitError(UnknownLoc::get(context))
           << "moe-materialize-plan: unknown layout '" << layout
           << "'; expected auto, padded or sorted";
  }

  void runOnOperation() override {
    MLIRContext *context = &getContext();
    // Layout selection first: MLP chains become the data path on the sorted
    // or the padded rows.
    {
      SmallVector<ExpertChain> chains;
      getOperation()->walk([&](CombineOp combine) {
        if (std::optional<ExpertChain> chain = expertChain(combine))
          chains.push_back(*chain);
      });
      IRRewriter rewriter(context);
      for (ExpertChain chain : chains)
        rewriteChain(rewriter, chain,
                     layout == "sorted" ||
                         (layout == "auto" && prefersSorted(chain.plan)));
    }
    RewritePatternSet patterns(context);
    patterns.add<DispatchOnSlotTable, CombineOnSlotTable, DispatchOnSoftWeights,
                 CombineOnSoftWeights, StatsOnSlotTable, PlanSlotsOnSlotTable>(
        context);
    if (failed(applyMoEPatterns(getOperation(), std::move(patterns))))
      return signalPassFailure();
    // Whatever still uses a plan has no layout to go to.
    bool failedAny = false;
    getOperation()->walk([&](Operation *op) {
      if (!isa<DispatchOp, CombineOp, RouteStatsOp, PlanSlotsOp>(op))
        return;
      failedAny = true;
      auto planOperand = llvm::find_if(op->getOperands(), [](Value v) {
        return isa<PlanType>(v.getType());
      });
      Operation *producer = (*planOperand).getDefiningOp();
      if (isa_and_nonnull<SoftPlanOp>(producer) && isa<PlanSlotsOp>(op))
        op->emitOpError() << "a Soft MoE plan has no slot table (its dispatch "
                             "and combine weights are dense)";
      else if (isa_and_nonnull<SoftPlanOp>(producer))
        op->emitOpError() << "statistics of a Soft MoE plan are not defined "
                             "(docs/routers.md §5 covers sparse routers)";
      else
        op->emitOpError() << "its plan has no concrete layout; run "
                             "moe-expand-route first";
    });
    if (failedAny)
      return signalPassFailure();
    // The packed plans are dead now.
    getOperation()->walk([](Operation *op) {
      if (isa<SlotPlanOp, SoftPlanOp>(op) && op->use_empty())
        op->erase();
    });
  }
};

} // namespace

bool isPlanLayout(StringRef layout) {
  return layout == "auto" || layout == "padded" || layout == "sorted";
}

} // namespace mlir::moe
