//===- RoutingScores.cpp - What routers rank and weigh by -----------------===//

#include "passes/routing/RoutingScores.h"

#include "passes/common/TensorBuilders.h"

#include "dialect/MoEOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <limits>

namespace mlir::moe {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

Value floatConstant(OpBuilder &b, Location loc, Type type, double value) {
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(type, value));
}

Value isEqual(OpBuilder &b, Location loc, Value x, double value) {
  return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, x,
                               floatConstant(b, loc, x.getType(), value));
}
} // namespace

Value validTokens(OpBuilder &b, Location loc, Value logits) {
  // No NaN or +Inf anywhere, and some entry above -Inf.
  Value clean = reduceDim(
      b, loc, logits, 2, b.getBoolAttr(true),
      [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        Value x = args[1];
        Value nan =
            arith::CmpFOp::create(nb, nloc, arith::CmpFPredicate::UNO, x, x);
        Value bad =
            arith::OrIOp::create(nb, nloc, nan, isEqual(nb, nloc, x, kInf));
        Value good = arith::XOrIOp::create(
            nb, nloc, bad,
            arith::ConstantOp::create(nb, nloc, nb.getBoolAttr(true)));
        return arith::AndIOp::create(nb, nloc, args[0], good);
      });
  Value someAboveMinusInf =
      reduceDim(b, loc, logits, 2, b.getBoolAttr(false),
                [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
                  Value above = arith::CmpFOp::create(
                      nb, nloc, arith::CmpFPredicate::OGT, args[1],
                      floatConstant(nb, nloc, args[1].getType(), -kInf));
                  return arith::OrIOp::create(nb, nloc, args[0], above);
                });
  return mapElementwise(
      b, loc, {clean, someAboveMinusInf}, b.getI1Type(),
      [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        return arith::AndIOp::create(nb, nloc, args[0], args[1]);
      });
}

Value validTokensPerExpert(OpBuilder &b, Location loc, Value valid,
                           int64_t numExperts, FloatType type) {
  // The count first (exact in any float type), then one division.
  Value count =
      reduceDim(b, loc, valid, 1, b.getFloatAttr(type, 0.0),
                [type](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
                  Value one = arith::UIToFPOp::create(nb, nloc, type, args[1]);
                  return arith::AddFOp::create(nb, nloc, args[0], one);
                });
  return mapElementwise(
      b, loc, count, type,
      [=](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        return arith::DivFOp::create(
            nb, nloc, args[0],
            floatConstant(nb, nloc, type, static_cast<double>(numExperts)));
      });
}

/// `exp(-|x|)`, which never overflows: both forms of the sigmoid start here.
static Value expMinusAbs(OpBuilder &b, Location loc, Value x) {
  return math::ExpOp::create(
      b, loc, arith::NegFOp::create(b, loc, math::AbsFOp::create(b, loc, x)));
}

Value whereValid(OpBuilder &b, Location loc, Value valid, Value values,
                 TypedAttr replacement) {
  auto type = cast<RankedTensorType>(values.getType());
  int64_t rank = type.getRank();
  Value init = emptyTensor(b, loc, type.getShape(), type.getElementType());
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, init.getType(), ValueRange{values, valid}, init,
             SmallVector<AffineMap>{b.getMultiDimIdentityMap(rank),
                                    loopMap(b, rank, {0, 1}),
                                    b.getMultiDimIdentityMap(rank)},
             iterators,
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               Value other = arith::ConstantOp::create(nb, nloc, replacement);
               linalg::YieldOp::create(nb, nloc,
                                       Value(arith::SelectOp::create(
                                           nb, nloc, args[1], args[0], other)));
             })
      .getResult(0);
}

Value stableSigmoid(OpBuilder &b, Location loc, Value x) {
  return mapElementwise(
      b, loc, x, b.getF32Type(),
      [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        // sigmoid = 1/(1+e) or e/(1+e), e = exp(-|x|).
        Value v = args[0];
        Value e = expMinusAbs(nb, nloc, v);
        Value one = f32Constant(nb, nloc, 1.0);
        Value denom = arith::AddFOp::create(nb, nloc, one, e);
        Value positive = arith::CmpFOp::create(
            nb, nloc, arith::CmpFPredicate::OGE, v, f32Constant(nb, nloc, 0.0));
        Value numerator = arith::SelectOp::create(nb, nloc, positive, one, e);
        return arith::DivFOp::create(nb, nloc, numerator, denom);
      });
}

Value logSigmoid(OpBuilder &b, Location loc, Value x) {
  return mapElementwise(
      b, loc, x, b.getF32Type(),
      [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        // log sigmoid(x) = min(x, 0) - log1p(exp(-|x|)).
        Value v = args[0];
        Value e = expMinusAbs(nb, nloc, v);
        Value low =
            arith::MinimumFOp::create(nb, nloc, v, f32Constant(nb, nloc, 0.0));
        return arith::SubFOp::create(nb, nloc, low,
                                     math::Log1pOp::create(nb, nloc, e));
      });
}

Value sinkhornTokenScores(OpBuilder &b, Location loc, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t g = type.getDimSize(0), s = type.getDimSize(1),
          e = type.getDimSize(2);
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  // Per column (g, e): the largest x (m1, first at token a) and the largest
  // of the others (m2): the top 2 along tokens, ties to the lower token.
  int64_t k = std::min<int64_t>(2, s);
  Value byColumn = swapLastDims(b, loc, x); // [G, E, S]
  auto top = TopKOp::create(b, loc, tensorType({g, e, k}, f32),
                            tensorType({g, e, k}, i32), byColumn, k);
  auto column = [&](Value t, int64_t j) -> Value {
    return generateTensor(
        b, loc, {g, e}, cast<RankedTensorType>(t.getType()).getElementType(),
        [&](OpBuilder &nb, Location nloc, ValueRange at) -> Value {
          return tensor::ExtractOp::create(
              nb, nloc, t,
              ValueRange{at[0], at[1], indexConstant(nb, nloc, j)});
        });
  };
  Value m1 = column(top.getValues(), 0);
  Value first = column(top.getIndices(), 0);
  Value m2 = k > 1 ? column(top.getValues(), 1)
                   : filledTensor(b, loc, {g, e}, b.getF32FloatAttr(-kInf));

  // sum1 = sum_s exp(x - m1) and sum2 = sum_{s != a} exp(x - m2), over s.
  auto shiftedSum = [&](Value shift, bool skipFirst) -> Value {
    Value zero = filledTensor(b, loc, {g, e}, b.getF32FloatAttr(0.0));
    SmallVector<utils::IteratorType> iterators = {
        utils::IteratorType::parallel, utils::IteratorType::reduction,
        utils::IteratorType::parallel};
    return linalg::GenericOp::create(
               b, loc, zero.getType(), ValueRange{x, shift, first}, zero,
               SmallVector<AffineMap>{
                   b.getMultiDimIdentityMap(3), loopMap(b, 3, {0, 2}),
                   loopMap(b, 3, {0, 2}), loopMap(b, 3, {0, 2})},
               iterators,
               [&](OpBuilder &nb, Location nloc, ValueRange args) {
                 Value term = math::ExpOp::create(
                     nb, nloc,
                     arith::SubFOp::create(nb, nloc, args[0], args[1]));
                 Value sum = arith::AddFOp::create(nb, nloc, args[3], term);
                 if (skipFirst) {
                   Value self =
                       toI32(nb, nloc, linalg::IndexOp::create(nb, nloc, 1));
                   Value isFirst = arith::CmpIOp::create(
                       nb, nloc, arith::CmpIPredicate::eq, self, args[2]);
                   sum =
                       arith::SelectOp::create(nb, nloc, isFirst, args[3], sum);
                 }
                 linalg::YieldOp::create(nb, nloc, sum);
               })
        .getResult(0);
  };
  Value sum1 = shiftedSum(m1, /*skipFirst=*/false);
  Value sum2 = shiftedSum(m2, /*skipFirst=*/true);

  // score = x - log(sum_{s' != s} exp(x[s'])), per column.
  return generateTensor(
      b, loc, {g, s, e}, f32,
      [&](OpBuilder &nb, Location nloc, ValueRange at) -> Value {
        ValueRange col = {at[0], at[2]};
        Value xv = tensor::ExtractOp::create(nb, nloc, x, at);
        Value max1 = tensor::ExtractOp::create(nb, nloc, m1, col);
        Value max2 = tensor::ExtractOp::create(nb, nloc, m2, col);
        Value s1 = tensor::ExtractOp::create(nb, nloc, sum1, col);
        Value s2 = tensor::ExtractOp::create(nb, nloc, sum2, col);
        Value a = tensor::ExtractOp::create(nb, nloc, first, col);
        Value isFirst = arith::CmpIOp::create(
            nb, nloc, arith::CmpIPredicate::eq, toI32(nb, nloc, at[1]), a);
        Value minusInf = f32Constant(nb, nloc, -kInf);
        // Below the maximum: the column's sum without this token's term,
        // which is at most 1 while the sum holds the maximum's 1.
        Value own = math::ExpOp::create(
            nb, nloc, arith::SubFOp::create(nb, nloc, xv, max1));
        Value othersBelow = arith::AddFOp::create(
            nb, nloc, max1,
            math::LogOp::create(nb, nloc,
                                arith::SubFOp::create(nb, nloc, s1, own)));
        // At the maximum: the others, shifted by the second maximum (-Inf
        // when the token is alone in the column).
        Value othersAtMax = arith::SelectOp::create(
            nb, nloc, isMinusInfinity(nb, nloc, max2), minusInf,
            arith::AddFOp::create(nb, nloc, max2,
                                  math::LogOp::create(nb, nloc, s2)));
        Value others = arith::SelectOp::create(nb, nloc, isFirst, othersAtMax,
                                               othersBelow);
        Value score = arith::SubFOp::create(nb, nloc, xv, others);
        // x = -Inf (P = 0), also in a column of -Inf only.
        return arith::SelectOp::create(nb, nloc, isMinusInfinity(nb, nloc, xv),
                                       minusInf, score);
      });
}

} // namespace mlir::moe
