//===- Activation.cpp - Expert activations on scalars and tensors ---------===//

#include "passes/common/Activation.h"
#include "passes/common/TensorBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
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

Value activateTensor(OpBuilder &b, Location loc, Activation activation,
                     Value z) {
  Type elementType = cast<RankedTensorType>(z.getType()).getElementType();
  if (activation == Activation::swiglu) {
    int64_t h = cast<RankedTensorType>(z.getType()).getShape().back() / 2;
    return mapElementwise(
        b, loc, {lastDimSlice(b, loc, z, 0, h), lastDimSlice(b, loc, z, h, h)},
        elementType,
        [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
          Value gate = activateScalar(nb, nloc, Activation::silu, args[0]);
          return arith::MulFOp::create(nb, nloc, gate, args[1]);
        });
  }
  return mapElementwise(
      b, loc, z, elementType,
      [activation](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        return activateScalar(nb, nloc, activation, args[0]);
      });
}

} // namespace mlir::moe
