//===- TensorBuilders.cpp - Small linalg/tensor building blocks -----------===//

#include "passes/common/TensorBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

namespace mlir::moe {

Value emptyTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                  Type elementType) {
  return tensor::EmptyOp::create(b, loc, shape, elementType);
}

Value filledTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                   TypedAttr value) {
  Value empty = emptyTensor(b, loc, shape, value.getType());
  Value scalar = arith::ConstantOp::create(b, loc, value);
  return linalg::FillOp::create(b, loc, scalar, empty).getResult(0);
}

RankedTensorType tensorType(ArrayRef<int64_t> shape, Type elementType) {
  return RankedTensorType::get(shape, elementType);
}

AffineMap loopMap(OpBuilder &b, int64_t numDims, ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> exprs;
  for (unsigned d : dims)
    exprs.push_back(b.getAffineDimExpr(d));
  return AffineMap::get(numDims, 0, exprs, b.getContext());
}

Value generateTensor(
    OpBuilder &b, Location loc, ArrayRef<int64_t> shape, Type elementType,
    function_ref<Value(OpBuilder &, Location, ValueRange)> fn) {
  Value init = emptyTensor(b, loc, shape, elementType);
  int64_t rank = shape.size();
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), ValueRange{}, init,
      SmallVector<AffineMap>{b.getMultiDimIdentityMap(rank)}, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange) {
        SmallVector<Value> at;
        for (int64_t i = 0; i < rank; ++i)
          at.push_back(linalg::IndexOp::create(nb, nloc, i));
        linalg::YieldOp::create(nb, nloc, fn(nb, nloc, at));
      });
  return generic.getResult(0);
}

Value swapLastDims(OpBuilder &b, Location loc, Value input) {
  auto type = cast<RankedTensorType>(input.getType());
  Value init = emptyTensor(
      b, loc, {type.getDimSize(0), type.getDimSize(2), type.getDimSize(1)},
      type.getElementType());
  return linalg::TransposeOp::create(b, loc, input, init,
                                     ArrayRef<int64_t>{0, 2, 1})
      .getResult()[0];
}

Value sumDim(OpBuilder &b, Location loc, Value input, int64_t dim) {
  Type elementType = cast<RankedTensorType>(input.getType()).getElementType();
  bool isFloat = isa<FloatType>(elementType);
  TypedAttr zero = isFloat ? TypedAttr(b.getFloatAttr(elementType, 0.0))
                           : TypedAttr(b.getIntegerAttr(elementType, 0));
  return reduceDim(
      b, loc, input, dim, zero,
      [isFloat](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        if (isFloat)
          return arith::AddFOp::create(nb, nloc, args[0], args[1]);
        return arith::AddIOp::create(nb, nloc, args[0], args[1]);
      });
}

Value scaleBy(OpBuilder &b, Location loc, Value input, double factor) {
  return mapElementwise(
      b, loc, input, b.getF32Type(),
      [factor](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        return arith::MulFOp::create(nb, nloc, args[0],
                                     f32Constant(nb, nloc, factor));
      });
}

Value convertFloat(OpBuilder &b, Location loc, Value value, Type type) {
  unsigned from = value.getType().getIntOrFloatBitWidth();
  unsigned to = type.getIntOrFloatBitWidth();
  if (value.getType() == type)
    return value;
  if (from < to)
    return arith::ExtFOp::create(b, loc, type, value);
  return arith::TruncFOp::create(b, loc, type, value);
}

Value multiplyAccumulate(OpBuilder &b, Location loc, Value lhs, Value rhs,
                         Value init, int64_t numLoops, int64_t numParallel,
                         ArrayRef<unsigned> lhsDims, ArrayRef<unsigned> rhsDims,
                         ArrayRef<unsigned> outDims) {
  SmallVector<utils::IteratorType> iterators(numLoops,
                                             utils::IteratorType::reduction);
  std::fill_n(iterators.begin(), numParallel, utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), ValueRange{lhs, rhs}, init,
      SmallVector<AffineMap>{loopMap(b, numLoops, lhsDims),
                             loopMap(b, numLoops, rhsDims),
                             loopMap(b, numLoops, outDims)},
      iterators, [](OpBuilder &nb, Location nloc, ValueRange args) {
        Type accType = args[2].getType();
        Value prod = arith::MulFOp::create(
            nb, nloc, convertFloat(nb, nloc, args[0], accType),
            convertFloat(nb, nloc, args[1], accType));
        linalg::YieldOp::create(
            nb, nloc, Value(arith::AddFOp::create(nb, nloc, args[2], prod)));
      });
  return generic.getResult(0);
}

Value toIndex(OpBuilder &b, Location loc, Value value) {
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), value);
}

Value toI32(OpBuilder &b, Location loc, Value value) {
  return arith::IndexCastOp::create(b, loc, b.getI32Type(), value);
}

scf::ForOp forLoop(OpBuilder &b, Location loc, Value lower, Value upper,
                   ValueRange iterArgs, LoopBodyFn body) {
  return scf::ForOp::create(
      b, loc, lower, upper, indexConstant(b, loc, 1), iterArgs,
      [&](OpBuilder &nb, Location nloc, Value i, ValueRange it) {
        scf::YieldOp::create(nb, nloc, body(nb, nloc, i, it));
      });
}

scf::ForOp forRange(OpBuilder &b, Location loc, int64_t n, ValueRange iterArgs,
                    LoopBodyFn body) {
  return forLoop(b, loc, indexConstant(b, loc, 0), indexConstant(b, loc, n),
                 iterArgs, body);
}

scf::ForOp markDisjointIterations(scf::ForOp loop) {
  loop->setAttr(kDisjointIterationsAttr, UnitAttr::get(loop.getContext()));
  return loop;
}

Value isNone(OpBuilder &b, Location loc, Value index) {
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, index,
                               i32Constant(b, loc, 0));
}

Value clampedIndex(OpBuilder &b, Location loc, Value index) {
  return toIndex(b, loc,
                 arith::MaxSIOp::create(b, loc, index, i32Constant(b, loc, 0)));
}

Value f32Constant(OpBuilder &b, Location loc, double value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

Value f64Constant(OpBuilder &b, Location loc, double value) {
  return arith::ConstantOp::create(b, loc, b.getF64FloatAttr(value));
}

Value i32Constant(OpBuilder &b, Location loc, int32_t value) {
  return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(value));
}

Value indexConstant(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

Value mapElementwise(OpBuilder &b, Location loc, ValueRange inputs,
                     Type resultElementType, const ScalarFn &fn) {
  Value shapeSource = *llvm::find_if(inputs, [](Value v) {
    return cast<RankedTensorType>(v.getType()).getRank() > 0;
  });
  int64_t rank = cast<RankedTensorType>(shapeSource.getType()).getRank();
  Value init = tensor::EmptyOp::create(
      b, loc, tensor::getMixedSizes(b, loc, shapeSource), resultElementType);
  SmallVector<AffineMap> maps;
  for (Value input : inputs) {
    if (cast<RankedTensorType>(input.getType()).getRank() == 0)
      maps.push_back(AffineMap::get(rank, 0, {}, b.getContext()));
    else
      maps.push_back(b.getMultiDimIdentityMap(rank));
  }
  maps.push_back(b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), inputs, init, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value result = fn(nb, nloc, args.drop_back());
        linalg::YieldOp::create(nb, nloc, result);
      });
  return generic.getResult(0);
}

/// The identity map of `rank` dimensions without `dim`.
static AffineMap dropDimMap(OpBuilder &b, int64_t rank, int64_t dim) {
  SmallVector<AffineExpr> exprs;
  for (int64_t i = 0; i < rank; ++i)
    if (i != dim)
      exprs.push_back(b.getAffineDimExpr(i));
  return AffineMap::get(rank, 0, exprs, b.getContext());
}

Value reduceDim(OpBuilder &b, Location loc, Value input, int64_t dim,
                TypedAttr init, const ScalarFn &fn) {
  auto type = cast<RankedTensorType>(input.getType());
  int64_t rank = type.getRank();
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < rank; ++i)
    if (i != dim)
      shape.push_back(type.getDimSize(i));
  Value acc = filledTensor(b, loc, shape, init);
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank),
                                 dropDimMap(b, rank, dim)};
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  iterators[dim] = utils::IteratorType::reduction;
  auto generic = linalg::GenericOp::create(
      b, loc, acc.getType(), input, acc, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        linalg::YieldOp::create(nb, nloc, fn(nb, nloc, {args[1], args[0]}));
      });
  return generic.getResult(0);
}

Value mapWithReduced(OpBuilder &b, Location loc, Value input, Value reduced,
                     int64_t dim, Type resultElementType, const ScalarFn &fn) {
  auto type = cast<RankedTensorType>(input.getType());
  int64_t rank = type.getRank();
  Value init = emptyTensor(b, loc, type.getShape(), resultElementType);
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank),
                                 dropDimMap(b, rank, dim),
                                 b.getMultiDimIdentityMap(rank)};
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), ValueRange{input, reduced}, init, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        linalg::YieldOp::create(nb, nloc, fn(nb, nloc, {args[0], args[1]}));
      });
  return generic.getResult(0);
}

std::pair<Value, Value> expMinusMax(OpBuilder &b, Location loc, Value input,
                                    int64_t dim) {
  Type elementType = cast<RankedTensorType>(input.getType()).getElementType();
  Value max = reduceDim(
      b, loc, input, dim,
      b.getFloatAttr(elementType, -std::numeric_limits<double>::infinity()),
      [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        return arith::MaximumFOp::create(nb, nloc, args[0], args[1]);
      });
  // A row of -Inf only (a masked row) has max -Inf: shift it by 0 instead,
  // so its exps are 0 rather than exp(-Inf - -Inf) = NaN.
  Value exps = mapWithReduced(
      b, loc, input, max, dim, elementType,
      [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        Value shift = arith::SelectOp::create(
            nb, nloc, isMinusInfinity(nb, nloc, args[1]),
            arith::ConstantOp::create(nb, nloc,
                                      nb.getFloatAttr(args[1].getType(), 0.0)),
            args[1]);
        Value shifted = arith::SubFOp::create(nb, nloc, args[0], shift);
        return math::ExpOp::create(nb, nloc, shifted);
      });
  return {max, exps};
}

Value isMinusInfinity(OpBuilder &b, Location loc, Value x) {
  Value minusInf = arith::ConstantOp::create(
      b, loc,
      b.getFloatAttr(x.getType(), -std::numeric_limits<double>::infinity()));
  return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, x, minusInf);
}

Value softmax(OpBuilder &b, Location loc, Value input, int64_t dim) {
  return normalizeBySum(b, loc, expMinusMax(b, loc, input, dim).second, dim);
}

Value logSumExp(OpBuilder &b, Location loc, Value input, int64_t dim) {
  auto [max, exps] = expMinusMax(b, loc, input, dim);
  Value sum = sumDim(b, loc, exps, dim);
  return mapElementwise(
      b, loc, {max, sum},
      cast<RankedTensorType>(input.getType()).getElementType(),
      [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        // max + log(sum), or -Inf (log 0) for a row of -Inf only.
        Value sum = arith::AddFOp::create(
            nb, nloc, args[0], math::LogOp::create(nb, nloc, args[1]));
        return arith::SelectOp::create(
            nb, nloc, isMinusInfinity(nb, nloc, args[0]), args[0], sum);
      });
}

Value normalizeBySum(OpBuilder &b, Location loc, Value input, int64_t dim) {
  Value sum = sumDim(b, loc, input, dim);
  return mapWithReduced(
      b, loc, input, sum, dim,
      cast<RankedTensorType>(input.getType()).getElementType(),
      [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        return arith::DivFOp::create(nb, nloc, args[0], args[1]);
      });
}

Value takeAlongLastDim(OpBuilder &b, Location loc, Value input, Value indices) {
  auto indexType = cast<RankedTensorType>(indices.getType());
  auto inputType = cast<RankedTensorType>(input.getType());
  int64_t rank = indexType.getRank();
  Value init =
      emptyTensor(b, loc, indexType.getShape(), inputType.getElementType());
  SmallVector<AffineMap> maps(2, b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), indices, init, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        SmallVector<Value> at;
        for (int64_t i = 0; i + 1 < rank; ++i)
          at.push_back(linalg::IndexOp::create(nb, nloc, i));
        at.push_back(toIndex(nb, nloc, args[0]));
        Value v = tensor::ExtractOp::create(nb, nloc, input, at);
        linalg::YieldOp::create(nb, nloc, v);
      });
  return generic.getResult(0);
}

} // namespace mlir::moe
