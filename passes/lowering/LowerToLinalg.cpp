//===- LowerToLinalg.cpp - moe ops to linalg, tensor and scf --------------===//
//
// `moe-lower-to-linalg` turns every remaining moe op into target-neutral
// ops on tensors:
// - dense math (gate, the MLP experts of the region-free fallback) into
//   `linalg.batch_matmul` and `linalg.generic`, which the CPU and GPU
//   pipelines tile, vectorize and map to their hardware; the expert data
//   path (gather, grouped GEMM, scatter-add) by its own decomposition;
// - the routing primitives into `linalg.generic` reductions (top-k,
//   Sinkhorn), prefix sums (slot assignment, LowerAssignSlots.cpp) and
//   short `scf.for` loops where an algorithm iterates (top-k's k passes,
//   Sinkhorn's iterations).
//
//===----------------------------------------------------------------------===//

#include "dialect/Activation.h"
#include "passes/Passes.h"
#include "passes/common/RewriteDriver.h"
#include "passes/common/TensorBuilders.h"
#include "passes/lowering/LoweringPatterns.h"
#include "passes/routing/RoutingScores.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

namespace mlir::moe {
#define GEN_PASS_DEF_MOELOWERTOLINALG
#include "passes/Passes.h.inc"

/// `a` ranks before `b` in descending order with ties to the lower index;
/// NaN ranks after every number.
Value ranksBefore(OpBuilder &b, Location loc, Value va, Value ia, Value vb,
                  Value ib) {
  auto isNaN = [&](Value v) -> Value {
    return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, v, v);
  };
  Value aNaN = isNaN(va), bNaN = isNaN(vb);
  Value greater =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, va, vb);
  Value equal =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, va, vb);
  Value notANaN = arith::XOrIOp::create(
      b, loc, aNaN, arith::ConstantOp::create(b, loc, b.getBoolAttr(true)));
  Value aNumberBNaN = arith::AndIOp::create(b, loc, bNaN, notANaN);
  Value bothNaN = arith::AndIOp::create(b, loc, aNaN, bNaN);
  Value tie = arith::OrIOp::create(b, loc, equal, bothNaN);
  Value lowerIndex =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, ia, ib);
  Value tieBreak = arith::AndIOp::create(b, loc, tie, lowerIndex);
  return arith::OrIOp::create(
      b, loc, arith::OrIOp::create(b, loc, greater, aNumberBNaN), tieBreak);
}

namespace {

/// `x` as f32 (extending f16/bf16 for accumulation).
Value toF32(OpBuilder &b, Location loc, Value x) {
  return convertFloat(b, loc, x, b.getF32Type());
}

//===----------------------------------------------------------------------===//
// moe.gate
//===----------------------------------------------------------------------===//

/// `x * rsqrt(sum_dim x^2 + 1e-6)`, as f32.
Value l2Normalize(OpBuilder &b, Location loc, Value x, int64_t dim) {
  Value sumSquares =
      reduceDim(b, loc, x, dim, b.getF32FloatAttr(0.0),
                [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
                  Value v = toF32(nb, nloc, args[1]);
                  Value sq = arith::MulFOp::create(nb, nloc, v, v);
                  return arith::AddFOp::create(nb, nloc, args[0], sq);
                });
  return mapWithReduced(
      b, loc, x, sumSquares, dim, b.getF32Type(),
      [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        Value sum = arith::AddFOp::create(nb, nloc, args[1],
                                          f32Constant(nb, nloc, 1e-6));
        // 1 / sqrt, not math.rsqrt: libm has no rsqrtf to lower it to.
        Value inv = arith::DivFOp::create(nb, nloc, f32Constant(nb, nloc, 1.0),
                                          math::SqrtOp::create(nb, nloc, sum));
        return arith::MulFOp::create(nb, nloc, toF32(nb, nloc, args[0]), inv);
      });
}

struct LowerGate : OpRewritePattern<GateOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GateOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto xType = op.getInput().getType();
    int64_t g = xType.getDimSize(0), s = xType.getDimSize(1);
    Value x = op.getInput(), w = op.getWeight();
    auto wType = cast<RankedTensorType>(w.getType());
    if (op.isNormalized()) {
      x = l2Normalize(rewriter, loc, x, 2);
      w = l2Normalize(rewriter, loc, w, 0);
    }
    // One GEMM over the tokens of every group, f32 accumulation:
    // logits[g * S + s, n] = sum_i x[g, s, i] * w[i, n] (w's columns
    // flattened; a named op, so the CPU and GPU pipelines tile it as they
    // tile the experts).
    int64_t d = xType.getDimSize(2);
    int64_t columns = 1;
    for (int64_t dim : wType.getShape().drop_front())
      columns *= dim;
    auto collapse = [&](Value v, ArrayRef<ReassociationIndices> groups,
                        ArrayRef<int64_t> shape) -> Value {
      return tensor::CollapseShapeOp::create(
          rewriter, loc,
          tensorType(shape,
                     cast<RankedTensorType>(v.getType()).getElementType()),
          v, groups);
    };
    Value rows = collapse(x, {{0, 1}, {2}}, {g * s, d});
    Value matrix = w;
    if (wType.getRank() == 3)
      matrix = collapse(w, {{0}, {1, 2}}, {d, columns});
    Value init = filledTensor(rewriter, loc, {g * s, columns},
                              rewriter.getF32FloatAttr(0));
    Value product =
        linalg::MatmulOp::create(rewriter, loc, ValueRange{rows, matrix}, init)
            .getResult(0);
    Value logits = tensor::ExpandShapeOp::create(
        rewriter, loc, op.getLogits().getType(), product,
        ArrayRef<ReassociationIndices>{{0, 1}, {2}});
    if (op.isNormalized()) {
      // [G, S, E * p] times the learned scale.
      logits = mapElementwise(
          rewriter, loc, {logits, op.getScale()}, rewriter.getF32Type(),
          [](OpBuilder &b, Location nloc, ValueRange args) -> Value {
            return arith::MulFOp::create(b, nloc, args[0], args[1]);
          });
    }
    rewriter.replaceOp(op, logits);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// moe.experts
//===----------------------------------------------------------------------===//

/// `[E, M, n]` filled with `bias[e, n]` (or zeros), to accumulate into.
Value biasInit(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
               Type elementType, Value bias) {
  if (!bias)
    return filledTensor(b, loc, shape, b.getFloatAttr(elementType, 0.0));
  Value init = emptyTensor(b, loc, shape, elementType);
  return linalg::GenericOp::create(
             b, loc, init.getType(), bias, init,
             SmallVector<AffineMap>{loopMap(b, 3, {0, 2}),
                                    b.getMultiDimIdentityMap(3)},
             SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
             [](OpBuilder &nb, Location nloc, ValueRange args) {
               linalg::YieldOp::create(nb, nloc, args[0]);
             })
      .getResult(0);
}

/// `x[e] @ w[e] + bias[e]` for every expert.
Value batchedAffine(OpBuilder &b, Location loc, Value x, Value w, Value bias) {
  auto xType = cast<RankedTensorType>(x.getType());
  auto wType = cast<RankedTensorType>(w.getType());
  SmallVector<int64_t> shape = {xType.getDimSize(0), xType.getDimSize(1),
                                wType.getDimSize(2)};
  Value init = biasInit(b, loc, shape, xType.getElementType(), bias);
  return linalg::BatchMatmulOp::create(b, loc, ValueRange{x, w}, init)
      .getResult(0);
}

Value lowerMLP(OpBuilder &b, ExpertsOp op) {
  Location loc = op.getLoc();
  Activation activation = *op.getActivation();
  Value hidden =
      batchedAffine(b, loc, op.getInput(), op.getUpWeight(), op.getUpBias());
  hidden = activateTensor(b, loc, activation, hidden);
  return batchedAffine(b, loc, hidden, op.getDownWeight(), op.getDownBias());
}

/// The region form: one iteration per expert over its `[M, d]` slots.
Value lowerRegion(OpBuilder &b, ExpertsOp op) {
  Location loc = op.getLoc();
  auto inputType = op.getInput().getType();
  auto resultType = op.getResult().getType();
  int64_t e = inputType.getDimSize(0), m = inputType.getDimSize(1);
  Block &body = op.getBody().front();
  Value init =
      emptyTensor(b, loc, resultType.getShape(), resultType.getElementType());
  auto loop = scf::ForOp::create(
      b, loc, indexConstant(b, loc, 0), indexConstant(b, loc, e),
      indexConstant(b, loc, 1), ValueRange{init},
      [&](OpBuilder &nb, Location nloc, Value expert, ValueRange iterArgs) {
        auto rowsOf = [&](RankedTensorType type) {
          SmallVector<OpFoldResult> offsets = {expert, nb.getIndexAttr(0),
                                               nb.getIndexAttr(0)};
          SmallVector<OpFoldResult> sizes = {
              nb.getIndexAttr(1), nb.getIndexAttr(m),
              nb.getIndexAttr(type.getDimSize(2))};
          SmallVector<OpFoldResult> strides(3, nb.getIndexAttr(1));
          return std::make_tuple(offsets, sizes, strides);
        };
        auto [inOffsets, inSizes, inStrides] = rowsOf(inputType);
        Value slots = tensor::ExtractSliceOp::create(
            nb, nloc, cast<RankedTensorType>(body.getArgument(1).getType()),
            op.getInput(), inOffsets, inSizes, inStrides);
        IRMapping mapping;
        mapping.map(body.getArgument(0), expert);
        mapping.map(body.getArgument(1), slots);
        for (Operation &inner : body.without_terminator())
          nb.clone(inner, mapping);
        Value result =
            mapping.lookup(cast<YieldOp>(body.getTerminator()).getValue());
        auto [outOffsets, outSizes, outStrides] = rowsOf(resultType);
        Value updated = tensor::InsertSliceOp::create(
            nb, nloc, result, iterArgs[0], outOffsets, outSizes, outStrides);
        scf::YieldOp::create(nb, nloc, updated);
      });
  return loop.getResult(0);
}

struct LowerExperts : OpRewritePattern<ExpertsOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ExpertsOp op,
                                PatternRewriter &rewriter) const override {
    Value result =
        op.isMLP() ? lowerMLP(rewriter, op) : lowerRegion(rewriter, op);
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// Replaces every op of the data path (gather, grouped GEMM, scatter-add),
/// and every other op with a decomposition such as `linalg.softmax` (the
/// dense parts of whole models), by its decomposition
/// (linalg::AggregatedOpInterface): later stages see linalg ops only.
struct DecomposeDataPath
    : OpInterfaceRewritePattern<linalg::AggregatedOpInterface> {
  DecomposeDataPath(MLIRContext *context, bool keepGathers)
      : OpInterfaceRewritePattern(context), keepGathers(keepGathers) {}
  LogicalResult matchAndRewrite(linalg::AggregatedOpInterface op,
                                PatternRewriter &rewriter) const override {
    if (keepGathers && isa<GatherRowsOp>(op))
      return failure();
    FailureOr<SmallVector<Value>> values = op.decomposeOperation(rewriter);
    if (failed(values))
      return failure();
    rewriter.replaceOp(op, *values);
    return success();
  }
  bool keepGathers;
};

//===----------------------------------------------------------------------===//
// Routing primitives
//===----------------------------------------------------------------------===//

/// The f32 top-k as integer arithmetic: each entry becomes one i64 key
/// whose signed order is the ranking (high half: the value's bits turned
/// into an order-preserving integer, -0 as +0 and NaN below every number;
/// low half: 2^32 - 1 - index, so ties go to the lower index). All keys
/// differ, so pick j is the largest key below pick j - 1: a max reduction
/// LLVM vectorizes. The value is read back at the decoded index, so the
/// results are bitwise those of the comparison order of docs/routers.md.
void lowerF32TopKByKeys(PatternRewriter &rewriter, TopKOp op) {
  Location loc = op.getLoc();
  Value input = op.getInput();
  auto type = op.getInput().getType();
  int64_t g = type.getDimSize(0), r = type.getDimSize(1);
  Type i64 = rewriter.getI64Type(), i32 = rewriter.getI32Type();
  auto constant64 = [](OpBuilder &b, Location l, int64_t v) -> Value {
    return arith::ConstantOp::create(b, l, b.getI64IntegerAttr(v));
  };
  Value keys = mapElementwise(
      rewriter, loc, input, i64,
      [&](OpBuilder &b, Location l, ValueRange args) -> Value {
        // -0 + 0 = +0: the two zeros tie, as they compare equal.
        Value x = arith::AddFOp::create(b, l, args[0], f32Constant(b, l, 0.0));
        Value bits = arith::BitcastOp::create(b, l, b.getI32Type(), x);
        // Negative floats order backwards: flip their magnitude bits.
        Value sign = arith::ShRSIOp::create(b, l, bits, i32Constant(b, l, 31));
        Value flip =
            arith::AndIOp::create(b, l, sign, i32Constant(b, l, 0x7fffffff));
        Value ordered = arith::XOrIOp::create(b, l, bits, flip);
        Value isNaN =
            arith::CmpFOp::create(b, l, arith::CmpFPredicate::UNO, x, x);
        ordered = arith::SelectOp::create(
            b, l, isNaN, i32Constant(b, l, std::numeric_limits<int32_t>::min()),
            ordered);
        Value high = arith::ShLIOp::create(
            b, l, arith::ExtSIOp::create(b, l, b.getI64Type(), ordered),
            constant64(b, l, 32));
        Value index = arith::IndexCastOp::create(
            b, l, b.getI64Type(), linalg::IndexOp::create(b, l, 2));
        Value low =
            arith::SubIOp::create(b, l, constant64(b, l, 0xffffffffLL), index);
        return arith::OrIOp::create(b, l, high, low);
      });
  Value values = emptyTensor(rewriter, loc, op.getValues().getType().getShape(),
                             type.getElementType());
  Value indices =
      emptyTensor(rewriter, loc, op.getIndices().getType().getShape(), i32);
  Value firstBound = filledTensor(
      rewriter, loc, {g, r},
      rewriter.getI64IntegerAttr(std::numeric_limits<int64_t>::max()));
  auto loop = scf::ForOp::create(
      rewriter, loc, indexConstant(rewriter, loc, 0),
      indexConstant(rewriter, loc, op.getK()), indexConstant(rewriter, loc, 1),
      ValueRange{values, indices, firstBound},
      [&](OpBuilder &b, Location nloc, Value j, ValueRange it) {
        Value bound = it[2];
        Value none = filledTensor(
            b, nloc, {g, r},
            b.getI64IntegerAttr(std::numeric_limits<int64_t>::min()));
        SmallVector<utils::IteratorType> iterators(
            2, utils::IteratorType::parallel);
        iterators.push_back(utils::IteratorType::reduction);
        Value pick =
            linalg::GenericOp::create(
                b, nloc, TypeRange{tensorType({g, r}, i64)},
                ValueRange{keys, bound}, ValueRange{none},
                SmallVector<AffineMap>{loopMap(b, 3, {0, 1, 2}),
                                       loopMap(b, 3, {0, 1}),
                                       loopMap(b, 3, {0, 1})},
                iterators,
                [&](OpBuilder &nb, Location l, ValueRange args) {
                  Value below = arith::CmpIOp::create(
                      nb, l, arith::CmpIPredicate::slt, args[0], args[1]);
                  Value candidate = arith::SelectOp::create(
                      nb, l, below, args[0],
                      constant64(nb, l, std::numeric_limits<int64_t>::min()));
                  linalg::YieldOp::create(
                      nb, l,
                      Value(arith::MaxSIOp::create(nb, l, args[2], candidate)));
                })
                .getResult(0);
        // Decode: the index from the low half, the value read back.
        Value pickIndex = mapElementwise(
            b, nloc, pick, i32,
            [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
              Value low = arith::AndIOp::create(
                  nb, l, args[0], constant64(nb, l, 0xffffffffLL));
              Value index = arith::SubIOp::create(
                  nb, l, constant64(nb, l, 0xffffffffLL), low);
              return arith::TruncIOp::create(nb, l, nb.getI32Type(), index);
            });
        Value pickValue = generateTensor(
            b, nloc, {g, r}, type.getElementType(),
            [&](OpBuilder &nb, Location l, ValueRange at) -> Value {
              Value n = toIndex(
                  nb, l, tensor::ExtractOp::create(nb, l, pickIndex, at));
              return tensor::ExtractOp::create(nb, l, input,
                                               ValueRange{at[0], at[1], n});
            });
        SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0),
                                             b.getIndexAttr(0), j};
        SmallVector<OpFoldResult> sizes = {b.getIndexAttr(g), b.getIndexAttr(r),
                                           b.getIndexAttr(1)};
        SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
        Value newValues = tensor::InsertSliceOp::create(
            b, nloc, pickValue, it[0], offsets, sizes, strides);
        Value newIndices = tensor::InsertSliceOp::create(
            b, nloc, pickIndex, it[1], offsets, sizes, strides);
        scf::YieldOp::create(b, nloc, ValueRange{newValues, newIndices, pick});
      });
  rewriter.replaceOp(op, {loop.getResult(0), loop.getResult(1)});
}

struct LowerTopK : OpRewritePattern<TopKOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TopKOp op,
                                PatternRewriter &rewriter) const override {
    // An index must fit the key's low half.
    if (op.getInput().getType().getElementType().isF32() &&
        op.getInput().getType().getDimSize(2) <= 0xffffffffLL) {
      lowerF32TopKByKeys(rewriter, op);
      return success();
    }
    Location loc = op.getLoc();
    Value input = op.getInput();
    auto type = op.getInput().getType();
    int64_t g = type.getDimSize(0), r = type.getDimSize(1);
    Type valueType = type.getElementType(), i32 = rewriter.getI32Type();
    auto rowType = tensorType({g, r}, valueType);
    auto rowIndexType = tensorType({g, r}, i32);
    constexpr double inf = std::numeric_limits<double>::infinity();
    // Pick j is the best entry ranking after pick j - 1: k passes of an
    // arg-max reduction, parallel over rows, no sorting buffer.
    Value firstPrevValue = filledTensor(rewriter, loc, {g, r},
                                        rewriter.getFloatAttr(valueType, inf));
    Value firstPrevIndex =
        filledTensor(rewriter, loc, {g, r}, rewriter.getI32IntegerAttr(-1));
    Value values = emptyTensor(rewriter, loc,
                               op.getValues().getType().getShape(), valueType);
    Value indices =
        emptyTensor(rewriter, loc, op.getIndices().getType().getShape(), i32);
    auto loop = scf::ForOp::create(
        rewriter, loc, indexConstant(rewriter, loc, 0),
        indexConstant(rewriter, loc, op.getK()),
        indexConstant(rewriter, loc, 1),
        ValueRange{values, indices, firstPrevValue, firstPrevIndex},
        [&](OpBuilder &b, Location nloc, Value j, ValueRange it) {
          Value prevValue = it[2], prevIndex = it[3];
          Value bestValue =
              filledTensor(b, nloc, {g, r}, b.getFloatAttr(valueType, -inf));
          Value bestIndex =
              filledTensor(b, nloc, {g, r}, b.getI32IntegerAttr(-1));
          SmallVector<utils::IteratorType> iterators(
              2, utils::IteratorType::parallel);
          iterators.push_back(utils::IteratorType::reduction);
          auto pass = linalg::GenericOp::create(
              b, nloc, TypeRange{rowType, rowIndexType},
              ValueRange{input, prevValue, prevIndex},
              ValueRange{bestValue, bestIndex},
              SmallVector<AffineMap>{
                  loopMap(b, 3, {0, 1, 2}), loopMap(b, 3, {0, 1}),
                  loopMap(b, 3, {0, 1}), loopMap(b, 3, {0, 1}),
                  loopMap(b, 3, {0, 1})},
              iterators, [&](OpBuilder &nb, Location l, ValueRange args) {
                Value v = args[0], pv = args[1], pi = args[2];
                Value bv = args[3], bi = args[4];
                Value n = toI32(nb, l, linalg::IndexOp::create(nb, l, 2));
                Value eligible = ranksBefore(nb, l, pv, pi, v, n);
                Value noBest = isNone(nb, l, bi);
                Value better = arith::OrIOp::create(
                    nb, l, noBest, ranksBefore(nb, l, v, n, bv, bi));
                Value take = arith::AndIOp::create(nb, l, eligible, better);
                linalg::YieldOp::create(
                    nb, l,
                    ValueRange{arith::SelectOp::create(nb, l, take, v, bv),
                               arith::SelectOp::create(nb, l, take, n, bi)});
              });
          Value pickValue = pass.getResult(0), pickIndex = pass.getResult(1);
          SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0),
                                               b.getIndexAttr(0), j};
          SmallVector<OpFoldResult> sizes = {
              b.getIndexAttr(g), b.getIndexAttr(r), b.getIndexAttr(1)};
          SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
          Value newValues = tensor::InsertSliceOp::create(
              b, nloc, pickValue, it[0], offsets, sizes, strides);
          Value newIndices = tensor::InsertSliceOp::create(
              b, nloc, pickIndex, it[1], offsets, sizes, strides);
          scf::YieldOp::create(
              b, nloc, ValueRange{newValues, newIndices, pickValue, pickIndex});
        });
    rewriter.replaceOp(op, {loop.getResult(0), loop.getResult(1)});
    return success();
  }
};

/// `x[g, s, e] + y[g, (s|e)]`, with `y` broadcast over `dim`.
Value addBroadcast(OpBuilder &b, Location loc, Value x, Value y, int64_t dim) {
  return mapWithReduced(
      b, loc, x, y, dim, b.getF32Type(),
      [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        return arith::AddFOp::create(nb, nloc, args[0], args[1]);
      });
}

/// `c - x`, element-wise.
Value constantMinus(OpBuilder &b, Location loc, double c, Value x) {
  return mapElementwise(
      b, loc, x, b.getF32Type(),
      [c](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        return arith::SubFOp::create(nb, nloc, f32Constant(nb, nloc, c),
                                     args[0]);
      });
}

struct LowerSinkhorn : OpRewritePattern<SinkhornOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SinkhornOp op,
                                PatternRewriter &rewriter) const override {
    // In log space, so large logits cannot overflow, over the valid tokens
    // (log a = 0, log K = l / eps; -Inf for the others):
    //   log u = log a - logsumexp_e(log K + log v)
    //   log v = log b - logsumexp_s(log K + log u)
    // with b = S_valid / E per group; an expert no valid token can reach
    // (logsumexp -Inf) keeps log v = 0.
    Location loc = op.getLoc();
    auto type = op.getLogits().getType();
    int64_t g = type.getDimSize(0), s = type.getDimSize(1),
            e = type.getDimSize(2);
    constexpr double inf = std::numeric_limits<double>::infinity();
    Type f32 = rewriter.getF32Type();
    double invEpsilon = 1.0 / op.getEpsilon().convertToDouble();
    Value valid = validTokens(rewriter, loc, op.getLogits());
    Value logK =
        whereValid(rewriter, loc, valid,
                   mapElementwise(rewriter, loc, op.getLogits(), f32,
                                  [invEpsilon](OpBuilder &nb, Location nloc,
                                               ValueRange args) -> Value {
                                    return arith::MulFOp::create(
                                        nb, nloc, args[0],
                                        f32Constant(nb, nloc, invEpsilon));
                                  }),
                   rewriter.getF32FloatAttr(-inf));
    Value logB = mapElementwise(
        rewriter, loc,
        validTokensPerExpert(rewriter, loc, valid, e, rewriter.getF32Type()),
        f32, [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
          return math::LogOp::create(nb, nloc, args[0]);
        });
    Value logV0 =
        filledTensor(rewriter, loc, {g, e}, rewriter.getF32FloatAttr(0));
    Value logU0 =
        filledTensor(rewriter, loc, {g, s}, rewriter.getF32FloatAttr(0));
    auto loop = scf::ForOp::create(
        rewriter, loc, indexConstant(rewriter, loc, 0),
        indexConstant(rewriter, loc, op.getIterations()),
        indexConstant(rewriter, loc, 1), ValueRange{logU0, logV0},
        [&](OpBuilder &b, Location nloc, Value, ValueRange it) {
          Value logU = whereValid(
              b, nloc, valid,
              constantMinus(
                  b, nloc, 0.0,
                  logSumExp(b, nloc, addBroadcast(b, nloc, logK, it[1], 1), 2)),
              b.getF32FloatAttr(-inf));
          Value columns =
              logSumExp(b, nloc, addBroadcast(b, nloc, logK, logU, 2), 1);
          Value logV =
              linalg::GenericOp::create(
                  b, nloc, columns.getType(), ValueRange{columns, logB},
                  emptyTensor(b, nloc, {g, e}, f32),
                  SmallVector<AffineMap>{b.getMultiDimIdentityMap(2),
                                         loopMap(b, 2, {0}),
                                         b.getMultiDimIdentityMap(2)},
                  SmallVector<utils::IteratorType>(
                      2, utils::IteratorType::parallel),
                  [&](OpBuilder &nb, Location l, ValueRange args) {
                    Value unreachable = isMinusInfinity(nb, l, args[0]);
                    Value v = arith::SubFOp::create(nb, l, args[1], args[0]);
                    linalg::YieldOp::create(
                        nb, l,
                        Value(arith::SelectOp::create(
                            nb, l, unreachable, f32Constant(nb, l, 0.0), v)));
                  })
                  .getResult(0);
          scf::YieldOp::create(b, nloc, ValueRange{logU, logV});
        });
    rewriter.replaceOp(op, loop.getResult(0));
    return success();
  }
};

struct LowerInvertSlots : OpRewritePattern<InvertSlotsOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(InvertSlotsOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto tableType = op.getSlotToken().getType();
    int64_t g = tableType.getDimSize(0), e = tableType.getDimSize(1),
            c = tableType.getDimSize(2);
    Value table = op.getSlotToken();
    Value init =
        filledTensor(rewriter, loc, op.getTokenSlot().getType().getShape(),
                     rewriter.getI32IntegerAttr(-1));
    // A token is in at most one slot of an expert: every slot writes its
    // own element.
    auto loop = markDisjointIterations(forRange(
        rewriter, loc, g * e * c, init,
        [&](OpBuilder &b, Location l, Value flat, ValueRange it) {
          Value perGroup = indexConstant(b, l, e * c);
          Value gi = arith::DivUIOp::create(b, l, flat, perGroup);
          Value slotFlat = arith::RemUIOp::create(b, l, flat, perGroup);
          Value cv = indexConstant(b, l, c);
          Value ei = arith::DivUIOp::create(b, l, slotFlat, cv);
          Value ci = arith::RemUIOp::create(b, l, slotFlat, cv);
          Value token =
              tensor::ExtractOp::create(b, l, table, ValueRange{gi, ei, ci});
          Value taken = arith::CmpIOp::create(b, l, arith::CmpIPredicate::sge,
                                              token, i32Constant(b, l, 0));
          auto ifOp = scf::IfOp::create(
              b, l, taken,
              [&](OpBuilder &tb, Location tl) {
                Value updated = tensor::InsertOp::create(
                    tb, tl, toI32(tb, tl, slotFlat), it[0],
                    ValueRange{gi, toIndex(tb, tl, token), ei});
                scf::YieldOp::create(tb, tl, updated);
              },
              [&](OpBuilder &eb, Location el) {
                scf::YieldOp::create(eb, el, it[0]);
              });
          return SmallVector<Value>{ifOp.getResult(0)};
        }));
    rewriter.replaceOp(op, loop.getResult(0));
    return success();
  }
};

struct MoELowerToLinalgPass : impl::MoELowerToLinalgBase<MoELowerToLinalgPass> {
  using MoELowerToLinalgBase::MoELowerToLinalgBase;
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    RewritePatternSet patterns(context);
    patterns.add<LowerGate, LowerExperts, LowerTopK, LowerSinkhorn,
                 LowerInvertSlots>(context);
    patterns.add<DecomposeDataPath>(context, keepGathers);
    populateLowerKSparseOTPatterns(patterns);
    populateLowerSortSlotsPatterns(patterns);
    populateLowerAssignSlotsPatterns(patterns);
    if (failed(applyMoEPatterns(getOperation(), std::move(patterns))))
      return signalPassFailure();
    bool left = false;
    getOperation()->walk([&](Operation *op) {
      if (!isa<MoEDialect>(op->getDialect()) || isa<YieldOp, CheckOp>(op) ||
          (keepGathers && isa<GatherRowsOp>(op)))
        return;
      left = true;
      op->emitOpError() << "has no lowering to linalg; run "
                           "moe-expand-route and moe-materialize-plan first";
    });
    if (left)
      signalPassFailure();
  }
};

} // namespace
} // namespace mlir::moe
