//===- DataPathDecomposition.cpp - The expert data path in linalg ---------===//
//
// What `moe.gather_rows`, `moe.grouped_matmul` and `moe.scatter_add_rows`
// mean, as a decomposition into linalg, tensor and scf on tensors
// (linalg::AggregatedOpInterface, as upstream `linalg.softmax` does), which
// `moe-lower-to-linalg` applies:
//
// - gather: a `linalg.generic` reading `input[index[n], i]` (0 for `-1`);
// - grouped GEMM: an `scf.forall` over the experts (their rows are
//   disjoint); each expert's rows (a moe.gather_rows by index, or a slice)
//   times its
//   weight in a `linalg.matmul` accumulating onto its bias, then the
//   epilogue (activation, row scale) in one `linalg.generic`, inserted into
//   the result. Uniform groups (the padded layout's constant offsets) give
//   static shapes;
// - scatter-add: a `linalg.generic` over `(g, s, i, j)`, `j` a reduction in
//   increasing order.
//
//===----------------------------------------------------------------------===//

#include "dialect/Activation.h"
#include "dialect/DataPath.h"
#include "dialect/MoEOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::moe;

namespace {

AffineMap loopMap(OpBuilder &b, unsigned numLoops, ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> exprs;
  for (unsigned d : dims)
    exprs.push_back(b.getAffineDimExpr(d));
  return AffineMap::get(numLoops, 0, exprs, b.getContext());
}

/// `rows[n, :] = input[index[n], :]`, or zeros for `index[n] < 0`, into
/// `init`.
Value gatherRows(OpBuilder &b, Location loc, Value input, Value index,
                 Value init) {
  auto type = cast<RankedTensorType>(init.getType());
  Type elementType = type.getElementType();
  return linalg::GenericOp::create(
             b, loc, type, index, init,
             SmallVector<AffineMap>{loopMap(b, 2, {0}),
                                    b.getMultiDimIdentityMap(2)},
             SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               auto [none, row] = rowToRead(nb, nloc, args[0]);
               Value column = linalg::IndexOp::create(nb, nloc, 1);
               Value v = tensor::ExtractOp::create(nb, nloc, input,
                                                   ValueRange{row, column});
               Value zero = arith::ConstantOp::create(
                   nb, nloc, nb.getFloatAttr(elementType, 0.0));
               linalg::YieldOp::create(
                   nb, nloc,
                   Value(arith::SelectOp::create(nb, nloc, none, zero, v)));
             })
      .getResult(0);
}

} // namespace

std::pair<Value, Value> mlir::moe::rowToRead(OpBuilder &b, Location loc,
                                             Value index) {
  Value zero = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0));
  Value none =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, index, zero);
  Value row = arith::IndexCastOp::create(
      b, loc, b.getIndexType(),
      arith::SelectOp::create(b, loc, none, zero, index));
  return {none, row};
}

/// The uniform group size `C` when `offsets` is the constant
/// `[0, C, 2C, ..., E * C]` (the padded layout), else nullopt.
std::optional<int64_t> mlir::moe::uniformGroupSize(Value offsets) {
  DenseIntElementsAttr values;
  if (!matchPattern(offsets, m_Constant(&values)) ||
      values.getNumElements() < 2)
    return std::nullopt;
  SmallVector<int64_t> v;
  for (const APInt &value : values.getValues<APInt>())
    v.push_back(value.getSExtValue());
  int64_t size = v[1] - v[0];
  for (size_t e = 0; e < v.size(); ++e)
    if (v[e] != static_cast<int64_t>(e) * size)
      return std::nullopt;
  return size;
}

FailureOr<SmallVector<Value>> GatherRowsOp::decomposeOperation(OpBuilder &b) {
  return SmallVector<Value>{
      gatherRows(b, getLoc(), getInput(), getIndex(), getInit())};
}

FailureOr<SmallVector<Value>>
GroupedMatmulOp::decomposeOperation(OpBuilder &b) {
  Location loc = getLoc();
  auto weightType = getWeight().getType();
  int64_t experts = weightType.getDimSize(0);
  if (ShapedType::isDynamic(experts))
    return emitOpError() << "needs a static number of experts to decompose";
  Type elementType = getInit().getType().getElementType();
  std::optional<int64_t> groupSize = uniformGroupSize(getOffsets());
  Value offsets = getOffsets();
  OpFoldResult k = tensor::getMixedSize(b, loc, getWeight(), 1);
  OpFoldResult p = tensor::getMixedSize(b, loc, getWeight(), 2);
  OpFoldResult q = tensor::getMixedSize(b, loc, getInit(), 1);
  std::optional<Activation> activation = getActivation();

  auto forall = scf::ForallOp::create(
      b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(experts)},
      ValueRange{getInit()}, std::nullopt,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value expert = args[0], out = args[1];
        // The expert's rows: [start, start + count).
        OpFoldResult start, count;
        if (groupSize) {
          start = arith::MulIOp::create(
                      nb, l, expert,
                      arith::ConstantIndexOp::create(nb, l, *groupSize))
                      .getResult();
          count = nb.getIndexAttr(*groupSize);
        } else {
          auto offsetAt = [&](Value e) -> Value {
            return arith::IndexCastOp::create(
                nb, l, nb.getIndexType(),
                tensor::ExtractOp::create(nb, l, offsets, e));
          };
          Value first = offsetAt(expert);
          Value last = offsetAt(arith::AddIOp::create(
              nb, l, expert, arith::ConstantIndexOp::create(nb, l, 1)));
          // Offsets are non-decreasing; a decreasing pair is an empty group.
          Value size = arith::MaxSIOp::create(
              nb, l, arith::SubIOp::create(nb, l, last, first),
              arith::ConstantIndexOp::create(nb, l, 0));
          start = first;
          count = size;
        }
        SmallVector<OpFoldResult> unit2(2, nb.getIndexAttr(1));
        auto rowsOf = [&](Value value, OpFoldResult width) -> Value {
          return tensor::ExtractSliceOp::create(
              nb, l, value, {start, nb.getIndexAttr(0)}, {count, width}, unit2);
        };
        // A: the expert's rows, taken by index from the tokens or sliced.
        Value a;
        if (Value gather = getGather()) {
          Value index = tensor::ExtractSliceOp::create(
              nb, l, gather, {start}, {count}, {nb.getIndexAttr(1)});
          Value init = tensor::EmptyOp::create(
              nb, l, SmallVector<OpFoldResult>{count, k},
              getInput().getType().getElementType());
          // An op of its own, which decomposes in turn: a target may fuse
          // it into what reads the rows (the CPU's packing of A blocks).
          a = GatherRowsOp::create(nb, l, init.getType(), getInput(), index,
                                   init);
        } else {
          a = rowsOf(getInput(), k);
        }
        // The expert's rows of the result: the epilogue writes them in
        // place (so tiling it makes workgroups that write the result, with
        // no copy); without an epilogue the GEMM accumulates there.
        Value dest = tensor::ExtractSliceOp::create(
            nb, l, out, {start, nb.getIndexAttr(0)}, {count, q}, unit2);
        Value scale;
        if (getScale())
          scale = tensor::ExtractSliceOp::create(nb, l, getScale(), {start},
                                                 {count}, {nb.getIndexAttr(1)});
        bool hasEpilogue = activation || scale;
        // The accumulator: the expert's bias on every row, or zeros.
        Value acc =
            hasEpilogue
                ? Value(tensor::EmptyOp::create(
                      nb, l, SmallVector<OpFoldResult>{count, p}, elementType))
                : dest;
        if (Value bias = getBias()) {
          auto biasType = RankedTensorType::get(
              {weightType.getDimSize(2)},
              cast<RankedTensorType>(bias.getType()).getElementType());
          Value expertBias = tensor::ExtractSliceOp::create(
              nb, l, biasType, bias, {expert, nb.getIndexAttr(0)},
              {nb.getIndexAttr(1), p}, unit2);
          acc = linalg::BroadcastOp::create(nb, l, expertBias, acc,
                                            ArrayRef<int64_t>{0})
                    .getResult()[0];
        } else {
          Value zero = arith::ConstantOp::create(
              nb, l, nb.getFloatAttr(elementType, 0.0));
          acc = linalg::FillOp::create(nb, l, ValueRange{zero}, ValueRange{acc})
                    .getResult(0);
        }
        auto expertWeightType = RankedTensorType::get(
            {weightType.getDimSize(1), weightType.getDimSize(2)},
            weightType.getElementType());
        Value w = tensor::ExtractSliceOp::create(
            nb, l, expertWeightType, getWeight(),
            {expert, nb.getIndexAttr(0), nb.getIndexAttr(0)},
            {nb.getIndexAttr(1), k, p},
            SmallVector<OpFoldResult>(3, nb.getIndexAttr(1)));
        Value z =
            linalg::MatmulOp::create(nb, l, ValueRange{a, w}, ValueRange{acc})
                .getResult(0);
        if (hasEpilogue)
          z = expertEpilogue(nb, l, activation, z, scale, dest);
        auto inParallel = scf::InParallelOp::create(nb, l);
        nb.setInsertionPointToStart(inParallel.getBody());
        tensor::ParallelInsertSliceOp::create(
            nb, l, z, out, {start, nb.getIndexAttr(0)}, {count, q}, unit2);
      });
  return SmallVector<Value>{forall.getResult(0)};
}

FailureOr<SmallVector<Value>>
ScatterAddRowsOp::decomposeOperation(OpBuilder &b) {
  Location loc = getLoc();
  auto type = getInit().getType();
  Type elementType = type.getElementType();
  Value rows = getRows();
  bool prescaled = getPrescaled();
  // Loops (g, s, i, j); j is the reduction, in increasing order.
  SmallVector<utils::IteratorType> iterators(3, utils::IteratorType::parallel);
  iterators.push_back(utils::IteratorType::reduction);
  return SmallVector<Value>{
      linalg::GenericOp::create(
          b, loc, type, ValueRange{getTokenRow(), getTokenWeight()}, getInit(),
          SmallVector<AffineMap>{loopMap(b, 4, {0, 1, 3}),
                                 loopMap(b, 4, {0, 1, 3}),
                                 loopMap(b, 4, {0, 1, 2})},
          iterators,
          [&](OpBuilder &nb, Location nloc, ValueRange args) {
            auto [none, row] = rowToRead(nb, nloc, args[0]);
            Value column = linalg::IndexOp::create(nb, nloc, 2);
            Value zero = arith::ConstantOp::create(
                nb, nloc, nb.getFloatAttr(elementType, 0.0));
            // A skipped assignment contributes weight * 0: nothing, unless
            // the weight is NaN (an invalid token's), which makes it NaN.
            Value v = arith::SelectOp::create(
                nb, nloc, none, zero,
                tensor::ExtractOp::create(nb, nloc, rows,
                                          ValueRange{row, column}));
            Value w = convertScalarToDtype(nb, nloc, args[1], elementType,
                                           /*isUnsignedCast=*/false);
            Value weighted = arith::MulFOp::create(nb, nloc, w, v);
            Value contribution = prescaled ? Value(arith::SelectOp::create(
                                                 nb, nloc, none, weighted, v))
                                           : weighted;
            linalg::YieldOp::create(
                nb, nloc,
                Value(arith::AddFOp::create(nb, nloc, args[2], contribution)));
          })
          .getResult(0)};
}
