//===- Activation.cpp - Expert activations on scalars and tensors ---------===//

#include "dialect/Activation.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>

namespace mlir::moe {

Value activateScalar(OpBuilder &b, Location loc, Activation activation,
                     Value x) {
  Type type = x.getType();
  auto constant = [&](double v) -> Value {
    return arith::ConstantOp::create(b, loc, b.getFloatAttr(type, v));
  };
  switch (activation) {
  case Activation::relu:
    return arith::MaximumFOp::create(b, loc, x, constant(0.0));
  case Activation::gelu: {
    // Exact: 0.5 x (1 + erf(x / sqrt 2)).
    Value scaled = arith::MulFOp::create(b, loc, x, constant(M_SQRT1_2));
    Value erf = math::ErfOp::create(b, loc, scaled);
    Value onePlus = arith::AddFOp::create(b, loc, constant(1.0), erf);
    Value half = arith::MulFOp::create(b, loc, x, constant(0.5));
    return arith::MulFOp::create(b, loc, half, onePlus);
  }
  case Activation::gelu_tanh: {
    // 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).
    Value cube =
        arith::MulFOp::create(b, loc, x, arith::MulFOp::create(b, loc, x, x));
    Value inner = arith::AddFOp::create(
        b, loc, x, arith::MulFOp::create(b, loc, constant(0.044715), cube));
    Value tanh = math::TanhOp::create(
        b, loc,
        arith::MulFOp::create(b, loc, constant(std::sqrt(2.0 / M_PI)), inner));
    Value onePlus = arith::AddFOp::create(b, loc, constant(1.0), tanh);
    Value half = arith::MulFOp::create(b, loc, x, constant(0.5));
    return arith::MulFOp::create(b, loc, half, onePlus);
  }
  case Activation::silu:
  case Activation::swiglu: {
    Value neg = arith::NegFOp::create(b, loc, x);
    Value e = math::ExpOp::create(b, loc, neg);
    Value denom = arith::AddFOp::create(b, loc, constant(1.0), e);
    return arith::DivFOp::create(b, loc, x, denom);
  }
  }
  llvm_unreachable("unknown activation");
}

/// `z[..., offset : offset + width]`.
static Value lastDimSlice(OpBuilder &b, Location loc, Value z, int64_t offset,
                          int64_t width) {
  auto type = cast<RankedTensorType>(z.getType());
  int64_t rank = type.getRank();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
  offsets.back() = b.getIndexAttr(offset);
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, z);
  sizes.back() = b.getIndexAttr(width);
  SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(b, loc, z, offsets, sizes, strides);
}

Value expertEpilogue(OpBuilder &b, Location loc,
                     std::optional<Activation> activation, Value z,
                     Value rowScale, Value dest) {
  if (!activation && !rowScale)
    return z;
  auto type = cast<RankedTensorType>(z.getType());
  int64_t rank = type.getRank();
  SmallVector<Value> inputs = {z};
  if (activation == Activation::swiglu) {
    int64_t h = type.getShape().back() / 2;
    inputs = {lastDimSlice(b, loc, z, 0, h), lastDimSlice(b, loc, z, h, h)};
  }
  SmallVector<AffineMap> maps(inputs.size(), b.getMultiDimIdentityMap(rank));
  if (rowScale) {
    inputs.push_back(rowScale);
    maps.push_back(
        AffineMap::get(rank, 0, {b.getAffineDimExpr(0)}, b.getContext()));
  }
  maps.push_back(b.getMultiDimIdentityMap(rank));
  Value init = dest ? dest
                    : tensor::EmptyOp::create(
                          b, loc, tensor::getMixedSizes(b, loc, inputs.front()),
                          type.getElementType());
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), inputs, init, maps,
      SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value v = args[0];
        if (activation == Activation::swiglu)
          v = arith::MulFOp::create(
              nb, nloc, activateScalar(nb, nloc, Activation::silu, args[0]),
              args[1]);
        else if (activation)
          v = activateScalar(nb, nloc, *activation, v);
        if (rowScale) {
          Value scale = args[inputs.size() - 1];
          if (scale.getType() != v.getType())
            scale = arith::TruncFOp::create(nb, nloc, v.getType(), scale);
          v = arith::MulFOp::create(nb, nloc, v, scale);
        }
        linalg::YieldOp::create(nb, nloc, v);
      });
  return generic.getResult(0);
}

Value activateTensor(OpBuilder &b, Location loc, Activation activation,
                     Value z) {
  return expertEpilogue(b, loc, activation, z, Value(), Value());
}

} // namespace mlir::moe
