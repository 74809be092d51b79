//===- LowerKSparseOT.cpp - moe.ksparse_ot to linalg ----------------------===//
//
// The sparsity-constrained transport plan of docs/routers.md §4.4, in f64:
//
//   sim = softmax(l) over experts, b = S / E, gamma = 1
//   alpha = m = v = 0
//   for t = 1..iterations:
//     P = b * best_response(alpha)
//     grad = sum_e P[:, e] - 1
//     Adam step on alpha (betas 0.9, 0.999, eps 1e-8, bias-corrected)
//   result: b * best_response(alpha)
//
// best_response(alpha)[:, e] projects z = (alpha + sim[:, e]) / b onto the
// C-sparse simplex: the C largest entries of z (moe.topk, ties to the lower
// token), sorted, give `rho = #{j : u_j - (sum_{i<=j} u_i - 1) / j > 0}` and
// `theta = (sum_{i<=rho} u_i - 1) / rho`; a kept entry becomes
// `max(z - theta, 0)`, every other entry 0. Expert columns are the rows of
// `[G, E, S]` tensors here, so top-C runs along the last dimension.
//
//===----------------------------------------------------------------------===//

#include "passes/lowering/LoweringPatterns.h"
#include "passes/Passes.h"
#include "passes/routing/RoutingScores.h"
#include "passes/common/TensorBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>

namespace mlir::moe {
namespace {

constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kAdamEpsilon = 1e-8;

/// `sum_{j < count} row[g, e, j]` as an f64 loop over the sorted row.
Value prefixSum(OpBuilder &b, Location loc, Value sorted, Value g, Value e,
                Value count) {
  auto loop = forLoop(
      b, loc, indexConstant(b, loc, 0), count,
      ValueRange{f64Constant(b, loc, 0.0)},
      [&](OpBuilder &nb, Location nloc, Value j, ValueRange acc) {
        Value u =
            tensor::ExtractOp::create(nb, nloc, sorted, ValueRange{g, e, j});
        return SmallVector<Value>{arith::AddFOp::create(nb, nloc, acc[0], u)};
      });
  return loop.getResult(0);
}

/// The simplex threshold `theta[g, e]` of the `[G, E, C]` sorted kept
/// values.
Value simplexThreshold(OpBuilder &b, Location loc, Value sorted) {
  auto type = cast<RankedTensorType>(sorted.getType());
  int64_t g = type.getDimSize(0), e = type.getDimSize(1),
          c = type.getDimSize(2);
  return generateTensor(
      b, loc, {g, e}, b.getF64Type(),
      [&](OpBuilder &nb, Location nloc, ValueRange at) -> Value {
        // rho counts the j (1-based) with u_j - (cumsum_j - 1) / j > 0.
        Value one = f64Constant(nb, nloc, 1.0);
        auto count = forRange(
            nb, nloc, c,
            ValueRange{f64Constant(nb, nloc, 0.0), indexConstant(nb, nloc, 0)},
            [&](OpBuilder &lb, Location lloc, Value j, ValueRange acc) {
              Value u = tensor::ExtractOp::create(lb, lloc, sorted,
                                                  ValueRange{at[0], at[1], j});
              Value cumsum = arith::AddFOp::create(lb, lloc, acc[0], u);
              Value rank = arith::AddIOp::create(lb, lloc, j,
                                                 indexConstant(lb, lloc, 1));
              Value rankF =
                  arith::UIToFPOp::create(lb, lloc, lb.getF64Type(),
                                          arith::IndexCastUIOp::create(
                                              lb, lloc, lb.getI64Type(), rank));
              Value excess = arith::DivFOp::create(
                  lb, lloc, arith::SubFOp::create(lb, lloc, cumsum, one),
                  rankF);
              Value holds = arith::CmpFOp::create(
                  lb, lloc, arith::CmpFPredicate::OGT,
                  arith::SubFOp::create(lb, lloc, u, excess),
                  f64Constant(lb, lloc, 0.0));
              Value rho = arith::AddIOp::create(
                  lb, lloc, acc[1],
                  arith::SelectOp::create(lb, lloc, holds,
                                          indexConstant(lb, lloc, 1),
                                          indexConstant(lb, lloc, 0)));
              return SmallVector<Value>{cumsum, rho};
            });
        Value rho = count.getResult(1);
        Value rhoF = arith::UIToFPOp::create(
            nb, nloc, nb.getF64Type(),
            arith::IndexCastUIOp::create(nb, nloc, nb.getI64Type(), rho));
        Value kept = prefixSum(nb, nloc, sorted, at[0], at[1], rho);
        return arith::DivFOp::create(
            nb, nloc, arith::SubFOp::create(nb, nloc, kept, one), rhoF);
      });
}

/// `best_response(alpha)` as `[G, E, S]`, times `b` when `scaled`: the
/// projection of `(alpha + sim) / b` onto the `capacity`-sparse simplex, per
/// expert row, with the group's `b` (`[G]`). Tokens outside the plan have
/// `sim = -Inf`: they sort last and are never part of the projection.
Value bestResponse(OpBuilder &b, Location loc, Value simByExpert, Value alpha,
                   Value bPerGroup, int64_t capacity, bool scaled) {
  auto type = cast<RankedTensorType>(simByExpert.getType());
  int64_t g = type.getDimSize(0), e = type.getDimSize(1),
          s = type.getDimSize(2);
  Type f64 = b.getF64Type();
  Value z =
      linalg::GenericOp::create(
          b, loc, type, ValueRange{simByExpert, alpha, bPerGroup},
          emptyTensor(b, loc, {g, e, s}, f64),
          SmallVector<AffineMap>{b.getMultiDimIdentityMap(3),
                                 loopMap(b, 3, {0, 2}), loopMap(b, 3, {0}),
                                 b.getMultiDimIdentityMap(3)},
          SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
          [](OpBuilder &nb, Location nloc, ValueRange args) {
            Value sum = arith::AddFOp::create(nb, nloc, args[1], args[0]);
            linalg::YieldOp::create(
                nb, nloc, Value(arith::DivFOp::create(nb, nloc, sum, args[2])));
          })
          .getResult(0);
  auto topk =
      TopKOp::create(b, loc, tensorType({g, e, capacity}, f64),
                     tensorType({g, e, capacity}, b.getI32Type()), z, capacity);
  Value sorted = topk.getValues(), order = topk.getIndices();
  Value theta = simplexThreshold(b, loc, sorted);
  return generateTensor(
      b, loc, {g, e, s}, f64,
      [&](OpBuilder &nb, Location nloc, ValueRange at) -> Value {
        // Kept: above the C-th value, or equal to it at a token no later
        // than the C-th one (ties went to the lower token).
        Value v = tensor::ExtractOp::create(nb, nloc, z, at);
        Value lastJ = indexConstant(nb, nloc, capacity - 1);
        Value lastValue = tensor::ExtractOp::create(
            nb, nloc, sorted, ValueRange{at[0], at[1], lastJ});
        Value lastToken =
            toIndex(nb, nloc,
                    tensor::ExtractOp::create(nb, nloc, order,
                                              ValueRange{at[0], at[1], lastJ}));
        Value above = arith::CmpFOp::create(nb, nloc, arith::CmpFPredicate::OGT,
                                            v, lastValue);
        Value tiedEarlier = arith::AndIOp::create(
            nb, nloc,
            arith::CmpFOp::create(nb, nloc, arith::CmpFPredicate::OEQ, v,
                                  lastValue),
            arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::ule, at[2],
                                  lastToken));
        Value kept = arith::OrIOp::create(nb, nloc, above, tiedEarlier);
        Value t = tensor::ExtractOp::create(nb, nloc, theta,
                                            ValueRange{at[0], at[1]});
        Value zero = f64Constant(nb, nloc, 0.0);
        Value projected = arith::MaximumFOp::create(
            nb, nloc, arith::SubFOp::create(nb, nloc, v, t), zero);
        if (scaled)
          projected = arith::MulFOp::create(
              nb, nloc,
              tensor::ExtractOp::create(nb, nloc, bPerGroup, ValueRange{at[0]}),
              projected);
        return arith::SelectOp::create(nb, nloc, kept, projected, zero);
      });
}

/// `1 - beta^t` for the f64 step number `t`.
Value biasCorrection(OpBuilder &b, Location loc, double beta, Value t) {
  Value power = math::PowFOp::create(b, loc, f64Constant(b, loc, beta), t);
  return arith::SubFOp::create(b, loc, f64Constant(b, loc, 1.0), power);
}

struct LowerKSparseOT : OpRewritePattern<KSparseOTOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(KSparseOTOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = op.getLogits().getType();
    int64_t g = type.getDimSize(0), s = type.getDimSize(1),
            e = type.getDimSize(2);
    int64_t capacity = std::min<int64_t>(op.getCapacity(), s);
    double learningRate = op.getLearningRate().convertToDouble();
    Type f64 = rewriter.getF64Type();

    // The plan is over the valid tokens (docs/routers.md §7): b = S_valid/E,
    // and the others have sim = -Inf and no gradient.
    Value valid = validTokens(rewriter, loc, op.getLogits());
    Value bPerGroup =
        validTokensPerExpert(rewriter, loc, valid, e, rewriter.getF64Type());
    Value logits = mapElementwise(
        rewriter, loc, op.getLogits(), f64,
        [&](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
          return arith::ExtFOp::create(nb, nloc, nb.getF64Type(), args[0]);
        });
    Value simByExpert = swapLastDims(
        rewriter, loc,
        whereValid(rewriter, loc, valid, softmax(rewriter, loc, logits, 2),
                   rewriter.getF64FloatAttr(
                       -std::numeric_limits<double>::infinity())));
    Value zeros =
        filledTensor(rewriter, loc, {g, s}, rewriter.getF64FloatAttr(0.0));

    // Adam on the token potentials; the state is (alpha, m, v).
    auto loop = forRange(
        rewriter, loc, op.getIterations(), ValueRange{zeros, zeros, zeros},
        [&](OpBuilder &b, Location nloc, Value i, ValueRange state) {
          Value alpha = state[0], m = state[1], v = state[2];
          // grad = b * sum_e p*_e - a
          Value response = bestResponse(b, nloc, simByExpert, alpha, bPerGroup,
                                        capacity, /*scaled=*/false);
          Value grad = whereValid(
              b, nloc, valid,
              mapWithReduced(
                  b, nloc, sumDim(b, nloc, response, 1), bPerGroup, 1, f64,
                  [=](OpBuilder &nb, Location l, ValueRange args) -> Value {
                    Value scaled =
                        arith::MulFOp::create(nb, l, args[1], args[0]);
                    return arith::SubFOp::create(nb, l, scaled,
                                                 f64Constant(nb, l, 1.0));
                  }),
              b.getF64FloatAttr(0.0));
          auto moment = [&](Value previous, double beta, bool squared) {
            return mapElementwise(
                b, nloc, {previous, grad}, f64,
                [=](OpBuilder &nb, Location l, ValueRange args) -> Value {
                  Value gv = args[1];
                  if (squared)
                    gv = arith::MulFOp::create(nb, l, gv, gv);
                  Value kept = arith::MulFOp::create(
                      nb, l, f64Constant(nb, l, beta), args[0]);
                  Value fresh = arith::MulFOp::create(
                      nb, l, f64Constant(nb, l, 1.0 - beta), gv);
                  return arith::AddFOp::create(nb, l, kept, fresh);
                });
          };
          Value newM = moment(m, kBeta1, /*squared=*/false);
          Value newV = moment(v, kBeta2, /*squared=*/true);
          Value step = arith::UIToFPOp::create(
              b, nloc, f64,
              arith::IndexCastUIOp::create(
                  b, nloc, b.getI64Type(),
                  arith::AddIOp::create(b, nloc, i,
                                        indexConstant(b, nloc, 1))));
          Value correction1 = biasCorrection(b, nloc, kBeta1, step);
          Value correction2 = biasCorrection(b, nloc, kBeta2, step);
          Value newAlpha = mapElementwise(
              b, nloc, {alpha, newM, newV}, f64,
              [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                Value mHat = arith::DivFOp::create(nb, l, args[1], correction1);
                Value vHat = arith::DivFOp::create(nb, l, args[2], correction2);
                Value denom = arith::AddFOp::create(
                    nb, l, math::SqrtOp::create(nb, l, vHat),
                    f64Constant(nb, l, kAdamEpsilon));
                Value update = arith::DivFOp::create(
                    nb, l,
                    arith::MulFOp::create(
                        nb, l, f64Constant(nb, l, learningRate), mHat),
                    denom);
                return arith::SubFOp::create(nb, l, args[0], update);
              });
          return SmallVector<Value>{newAlpha, newM, newV};
        });
    Value plan = bestResponse(rewriter, loc, simByExpert, loop.getResult(0),
                              bPerGroup, capacity, /*scaled=*/true);
    rewriter.replaceOp(op, swapLastDims(rewriter, loc, plan));
    return success();
  }
};

} // namespace

void populateLowerKSparseOTPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerKSparseOT>(patterns.getContext());
}

} // namespace mlir::moe
