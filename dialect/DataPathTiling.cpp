//===- DataPathTiling.cpp - Tiling the expert data path -------------------===//
//
// TilingInterface and ReifyRankedShapedTypeOpInterface of `moe.gather_rows`,
// `moe.grouped_matmul` and `moe.scatter_add_rows`: a tile of each is the same
// op on slices of its operands, so upstream tiling (`scf::tileUsingSCF`) and
// fusion (`tileConsumerAndFuseProducersUsingSCF`) apply. Reductions are not
// part of any iteration space: the grouped GEMM's sum over `k` feeds a
// non-linear epilogue and the scatter-add's sum over a token's assignments
// has a fixed order, so neither is ever split.
//
//===----------------------------------------------------------------------===//

#include "dialect/MoEOps.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace mlir::moe;

namespace {

/// `value[offsets][sizes]` with unit strides.
Value sliceOf(OpBuilder &b, Location loc, Value value,
              ArrayRef<OpFoldResult> offsets, ArrayRef<OpFoldResult> sizes) {
  SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(b, loc, value, offsets, sizes, strides);
}

/// `[0, n)` for every dimension of `value`.
SmallVector<Range> wholeDomain(OpBuilder &b, Location loc, Value value) {
  SmallVector<Range> domain;
  for (OpFoldResult size : tensor::getMixedSizes(b, loc, value))
    domain.push_back({b.getIndexAttr(0), size, b.getIndexAttr(1)});
  return domain;
}

/// A tile's result value and the slices it reads.
TilingResult tileResult(Operation *tiled, ArrayRef<Value> slices) {
  SmallVector<Operation *> generated;
  for (Value slice : slices)
    if (Operation *op = slice.getDefiningOp())
      generated.push_back(op);
  return TilingResult{
      {tiled}, SmallVector<Value>(tiled->getResults()), generated};
}

/// A data-path op's result tile is its iteration-domain tile: every result
/// dimension is a loop of the domain, in order.
LogicalResult sameTile(ArrayRef<OpFoldResult> offsets,
                       ArrayRef<OpFoldResult> sizes,
                       SmallVector<OpFoldResult> &resultOffsets,
                       SmallVector<OpFoldResult> &resultSizes) {
  resultOffsets.assign(offsets.begin(), offsets.end());
  resultSizes.assign(sizes.begin(), sizes.end());
  return success();
}

/// A destination-style op's result has its init's shape.
LogicalResult initShape(OpBuilder &b, Location loc, Value init,
                        ReifiedRankedShapedTypeDims &shapes) {
  shapes = {tensor::getMixedSizes(b, loc, init)};
  return success();
}

/// Whether `offset`/`size` cover all of `[0, extent)`.
bool isWhole(OpFoldResult offset, OpFoldResult size, OpFoldResult extent) {
  return isZeroInteger(offset) && isEqualConstantIntOrValue(size, extent);
}

} // namespace

//===----------------------------------------------------------------------===//
// moe.gather_rows: loops (n, i)
//===----------------------------------------------------------------------===//

SmallVector<utils::IteratorType> GatherRowsOp::getLoopIteratorTypes() {
  return SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel);
}

SmallVector<Range> GatherRowsOp::getIterationDomain(OpBuilder &b) {
  return wholeDomain(b, getLoc(), getInit());
}

FailureOr<TilingResult>
GatherRowsOp::getTiledImplementation(OpBuilder &b,
                                     ArrayRef<OpFoldResult> offsets,
                                     ArrayRef<OpFoldResult> sizes) {
  Location loc = getLoc();
  OpFoldResult rows = tensor::getMixedSize(b, loc, getInput(), 0);
  Value input = sliceOf(b, loc, getInput(), {b.getIndexAttr(0), offsets[1]},
                        {rows, sizes[1]});
  Value index = sliceOf(b, loc, getIndex(), {offsets[0]}, {sizes[0]});
  Value init = sliceOf(b, loc, getInit(), offsets, sizes);
  auto tiled = GatherRowsOp::create(b, loc, init.getType(), input, index, init);
  return tileResult(tiled, {input, index, init});
}

LogicalResult GatherRowsOp::getResultTilePosition(
    OpBuilder &, unsigned, ArrayRef<OpFoldResult> offsets,
    ArrayRef<OpFoldResult> sizes, SmallVector<OpFoldResult> &resultOffsets,
    SmallVector<OpFoldResult> &resultSizes) {
  return sameTile(offsets, sizes, resultOffsets, resultSizes);
}

FailureOr<TilingResult>
GatherRowsOp::generateResultTileValue(OpBuilder &b, unsigned,
                                      ArrayRef<OpFoldResult> offsets,
                                      ArrayRef<OpFoldResult> sizes) {
  return getTiledImplementation(b, offsets, sizes);
}

LogicalResult
GatherRowsOp::reifyResultShapes(OpBuilder &b,
                                ReifiedRankedShapedTypeDims &shapes) {
  return initShape(b, getLoc(), getInit(), shapes);
}

//===----------------------------------------------------------------------===//
// moe.grouped_matmul: loops (r, q)
//===----------------------------------------------------------------------===//

SmallVector<utils::IteratorType> GroupedMatmulOp::getLoopIteratorTypes() {
  return SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel);
}

SmallVector<Range> GroupedMatmulOp::getIterationDomain(OpBuilder &b) {
  return wholeDomain(b, getLoc(), getInit());
}

/// The group offsets seen from a tile of rows `[first, first + count)`:
/// `clamp(offsets[e] - first, 0, count)`.
static Value shiftOffsets(OpBuilder &b, Location loc, Value offsets,
                          OpFoldResult first, OpFoldResult count) {
  Type i32 = b.getI32Type();
  auto toI32 = [&](OpFoldResult ofr) -> Value {
    Value index = getValueOrCreateConstantIndexOp(b, loc, ofr);
    return arith::IndexCastOp::create(b, loc, i32, index);
  };
  Value start = toI32(first), size = toI32(count);
  auto type = cast<RankedTensorType>(offsets.getType());
  Value init = tensor::EmptyOp::create(
      b, loc, tensor::getMixedSizes(b, loc, offsets), i32);
  return linalg::GenericOp::create(
             b, loc, type, offsets, init,
             SmallVector<AffineMap>(2, b.getMultiDimIdentityMap(1)),
             {utils::IteratorType::parallel},
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               Value shifted = arith::SubIOp::create(nb, nloc, args[0], start);
               Value zero =
                   arith::ConstantOp::create(nb, nloc, nb.getI32IntegerAttr(0));
               Value clamped = arith::MinSIOp::create(
                   nb, nloc, arith::MaxSIOp::create(nb, nloc, shifted, zero),
                   size);
               linalg::YieldOp::create(nb, nloc, clamped);
             })
      .getResult(0);
}

/// The columns `[first, first + count)` of the last dimension of `value`
/// (weight or bias); with `swiglu`, of both halves, side by side.
static Value columnsOf(OpBuilder &b, Location loc, Value value,
                       OpFoldResult first, OpFoldResult count, bool swiglu) {
  auto type = cast<RankedTensorType>(value.getType());
  int64_t rank = type.getRank();
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, value);
  OpFoldResult width = sizes.back();
  OpFoldResult resultWidth = width;
  if (swiglu)
    resultWidth = affine::makeComposedFoldedAffineApply(
        b, loc, b.getAffineSymbolExpr(0).floorDiv(2), {width});
  if (isWhole(first, count, resultWidth))
    return value;
  auto half = [&](OpFoldResult start) {
    SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
    offsets.back() = start;
    SmallVector<OpFoldResult> halfSizes = sizes;
    halfSizes.back() = count;
    return sliceOf(b, loc, value, offsets, halfSizes);
  };
  if (!swiglu)
    return half(first);
  OpFoldResult second = affine::makeComposedFoldedAffineApply(
      b, loc, b.getAffineSymbolExpr(0) + b.getAffineSymbolExpr(1),
      {first, resultWidth});
  return tensor::ConcatOp::create(b, loc, rank - 1,
                                  ValueRange{half(first), half(second)});
}

FailureOr<TilingResult>
GroupedMatmulOp::getTiledImplementation(OpBuilder &b,
                                        ArrayRef<OpFoldResult> offsets,
                                        ArrayRef<OpFoldResult> sizes) {
  Location loc = getLoc();
  SmallVector<Value> slices;
  auto keep = [&](Value v) {
    slices.push_back(v);
    return v;
  };
  Value input = getInput(), gather;
  if (Value index = getGather()) {
    gather = keep(sliceOf(b, loc, index, {offsets[0]}, {sizes[0]}));
  } else {
    OpFoldResult width = tensor::getMixedSize(b, loc, input, 1);
    input = keep(sliceOf(b, loc, input, {offsets[0], b.getIndexAttr(0)},
                         {sizes[0], width}));
  }
  OpFoldResult rows = tensor::getMixedSize(b, loc, getInit(), 0);
  Value groupOffsets = getOffsets();
  if (!isWhole(offsets[0], sizes[0], rows))
    groupOffsets = shiftOffsets(b, loc, groupOffsets, offsets[0], sizes[0]);
  bool swiglu = getActivation() == Activation::swiglu;
  Value weight = columnsOf(b, loc, getWeight(), offsets[1], sizes[1], swiglu);
  Value bias;
  if (getBias())
    bias = columnsOf(b, loc, getBias(), offsets[1], sizes[1], swiglu);
  Value scale;
  if (getScale())
    scale = keep(sliceOf(b, loc, getScale(), {offsets[0]}, {sizes[0]}));
  Value init = keep(sliceOf(b, loc, getInit(), offsets, sizes));
  auto tiled = GroupedMatmulOp::create(b, loc, init.getType(), input, gather,
                                       weight, groupOffsets, bias, scale, init,
                                       getActivationAttr());
  return tileResult(tiled, slices);
}

LogicalResult GroupedMatmulOp::getResultTilePosition(
    OpBuilder &, unsigned, ArrayRef<OpFoldResult> offsets,
    ArrayRef<OpFoldResult> sizes, SmallVector<OpFoldResult> &resultOffsets,
    SmallVector<OpFoldResult> &resultSizes) {
  return sameTile(offsets, sizes, resultOffsets, resultSizes);
}

FailureOr<TilingResult>
GroupedMatmulOp::generateResultTileValue(OpBuilder &b, unsigned,
                                         ArrayRef<OpFoldResult> offsets,
                                         ArrayRef<OpFoldResult> sizes) {
  return getTiledImplementation(b, offsets, sizes);
}

LogicalResult
GroupedMatmulOp::reifyResultShapes(OpBuilder &b,
                                   ReifiedRankedShapedTypeDims &shapes) {
  return initShape(b, getLoc(), getInit(), shapes);
}

//===----------------------------------------------------------------------===//
// moe.scatter_add_rows: loops (g, s, i)
//===----------------------------------------------------------------------===//

SmallVector<utils::IteratorType> ScatterAddRowsOp::getLoopIteratorTypes() {
  return SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel);
}

SmallVector<Range> ScatterAddRowsOp::getIterationDomain(OpBuilder &b) {
  return wholeDomain(b, getLoc(), getInit());
}

FailureOr<TilingResult>
ScatterAddRowsOp::getTiledImplementation(OpBuilder &b,
                                         ArrayRef<OpFoldResult> offsets,
                                         ArrayRef<OpFoldResult> sizes) {
  Location loc = getLoc();
  OpFoldResult rowCount = tensor::getMixedSize(b, loc, getRows(), 0);
  Value rows = sliceOf(b, loc, getRows(), {b.getIndexAttr(0), offsets[2]},
                       {rowCount, sizes[2]});
  OpFoldResult choices = tensor::getMixedSize(b, loc, getTokenRow(), 2);
  SmallVector<OpFoldResult> tokenOffsets = {offsets[0], offsets[1],
                                            b.getIndexAttr(0)};
  SmallVector<OpFoldResult> tokenSizes = {sizes[0], sizes[1], choices};
  Value tokenRow = sliceOf(b, loc, getTokenRow(), tokenOffsets, tokenSizes);
  Value weight = sliceOf(b, loc, getTokenWeight(), tokenOffsets, tokenSizes);
  Value init = sliceOf(b, loc, getInit(), offsets, sizes);
  auto tiled = ScatterAddRowsOp::create(b, loc, init.getType(), rows, tokenRow,
                                        weight, init, getPrescaledAttr());
  return tileResult(tiled, {rows, tokenRow, weight, init});
}

LogicalResult ScatterAddRowsOp::getResultTilePosition(
    OpBuilder &, unsigned, ArrayRef<OpFoldResult> offsets,
    ArrayRef<OpFoldResult> sizes, SmallVector<OpFoldResult> &resultOffsets,
    SmallVector<OpFoldResult> &resultSizes) {
  return sameTile(offsets, sizes, resultOffsets, resultSizes);
}

FailureOr<TilingResult>
ScatterAddRowsOp::generateResultTileValue(OpBuilder &b, unsigned,
                                          ArrayRef<OpFoldResult> offsets,
                                          ArrayRef<OpFoldResult> sizes) {
  return getTiledImplementation(b, offsets, sizes);
}

LogicalResult
ScatterAddRowsOp::reifyResultShapes(OpBuilder &b,
                                    ReifiedRankedShapedTypeDims &shapes) {
  return initShape(b, getLoc(), getInit(), shapes);
}
