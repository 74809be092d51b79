//===- LowerDataPath.cpp - The grouped GEMM, one result element per thread
//-===//
//
// `moe-gpu-lower-data-path`: every `moe.grouped_matmul` becomes one
// `linalg.generic` over its result `(r, q)`, all parallel, whose body finds
// the row's expert, reads the row's A by index (the fused gather) and sums
// `k` in increasing order onto the bias before the epilogue. Every result
// element is independent, so the GPU runs one per thread over the whole
// result (ragged groups, both plan layouts) with no per-expert temporaries.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/common/TensorBuilders.h"
#include "passes/gpu/GroupedMatmulKernel.h"
#include "passes/gpu/ThreadGridMapping.h"

#include "dialect/Activation.h"
#include "dialect/DataPath.h"
#include "dialect/MoEOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEGPULOWERDATAPATH
#include "passes/Passes.h.inc"

namespace {

/// The element `tensor[indices]` (index values).
Value at(OpBuilder &b, Location loc, Value tensor, ValueRange indices) {
  return tensor::ExtractOp::create(b, loc, tensor, indices);
}

/// The expert whose group holds row `r`, or -1 (an index value).
Value expertOfRow(OpBuilder &b, Location loc, GroupedMatmulOp op, Value r) {
  int64_t experts = op.getNumExperts();
  if (std::optional<int64_t> size = uniformGroupSize(op.getOffsets())) {
    if (*size == 0)
      return indexConstant(b, loc, -1);
    Value e = arith::DivUIOp::create(b, loc, r, indexConstant(b, loc, *size));
    Value inside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, e,
                                         indexConstant(b, loc, experts));
    return arith::SelectOp::create(b, loc, inside, e,
                                   indexConstant(b, loc, -1));
  }
  // offsets[e] <= r < offsets[e + 1]; groups are disjoint, the last match is
  // the only one.
  auto loop = scf::ForOp::create(
      b, loc, indexConstant(b, loc, 0), indexConstant(b, loc, experts),
      indexConstant(b, loc, 1), ValueRange{indexConstant(b, loc, -1)},
      [&](OpBuilder &nb, Location l, Value e, ValueRange found) {
        Value first = toIndex(nb, l, at(nb, l, op.getOffsets(), e));
        Value next = arith::AddIOp::create(nb, l, e, indexConstant(nb, l, 1));
        Value last = toIndex(nb, l, at(nb, l, op.getOffsets(), next));
        Value from =
            arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sle, first, r);
        Value to =
            arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt, r, last);
        Value in = arith::AndIOp::create(nb, l, from, to);
        scf::YieldOp::create(
            nb, l, Value(arith::SelectOp::create(nb, l, in, e, found[0])));
      });
  return loop.getResult(0);
}

/// Row `r` of the result (column `q`) of the expert `e`'s GEMM and epilogue.
Value expertElement(OpBuilder &b, Location loc, GroupedMatmulOp op, Value e,
                    Value r, Value q) {
  Type type = op.getInit().getType().getElementType();
  std::optional<Activation> activation = op.getActivation();
  bool swiglu = activation == Activation::swiglu;
  int64_t p = op.getWeight().getType().getDimSize(2);
  Value zero = arith::ConstantOp::create(b, loc, b.getFloatAttr(type, 0.0));
  // Columns summed: q, and q + P/2 with swiglu.
  SmallVector<Value> columns = {q};
  if (swiglu)
    columns.push_back(
        arith::AddIOp::create(b, loc, q, indexConstant(b, loc, p / 2)));
  SmallVector<Value> init;
  for (Value column : columns)
    init.push_back(
        op.getBias()
            ? convertFloat(
                  b, loc, at(b, loc, op.getBias(), ValueRange{e, column}), type)
            : zero);
  // The A row: by index (-1 reads zeros) or row r itself.
  Value row = r, none;
  if (Value gather = op.getGather()) {
    auto [empty, read] = rowToRead(b, loc, at(b, loc, gather, r));
    none = empty;
    row = read;
  }
  Value k = tensor::DimOp::create(b, loc, op.getWeight(), 1);
  auto sum = scf::ForOp::create(
      b, loc, indexConstant(b, loc, 0), k, indexConstant(b, loc, 1), init,
      [&](OpBuilder &nb, Location l, Value kk, ValueRange acc) {
        Value a = convertFloat(
            nb, l, at(nb, l, op.getInput(), ValueRange{row, kk}), type);
        if (none)
          a = arith::SelectOp::create(nb, l, none, zero, a);
        SmallVector<Value> next;
        for (auto [column, partial] : llvm::zip(columns, acc)) {
          Value w = convertFloat(
              nb, l, at(nb, l, op.getWeight(), ValueRange{e, kk, column}),
              type);
          next.push_back(arith::AddFOp::create(
              nb, l, partial, arith::MulFOp::create(nb, l, a, w)));
        }
        scf::YieldOp::create(nb, l, next);
      });
  Value v = sum.getResult(0);
  if (swiglu)
    v = arith::MulFOp::create(
        b, loc, activateScalar(b, loc, Activation::silu, v), sum.getResult(1));
  else if (activation)
    v = activateScalar(b, loc, *activation, v);
  if (Value scale = op.getScale())
    v = arith::MulFOp::create(b, loc, v,
                              convertFloat(b, loc, at(b, loc, scale, r), type));
  return v;
}

LogicalResult lowerGroupedMatmul(GroupedMatmulOp op) {
  if (ShapedType::isDynamic(op.getNumExperts()))
    return op.emitOpError("needs a static number of experts on the GPU");
  OpBuilder b(op);
  Location loc = op.getLoc();
  auto type = cast<RankedTensorType>(op.getInit().getType());
  auto generic = linalg::GenericOp::create(
      b, loc, type, ValueRange{}, op.getInit(),
      SmallVector<AffineMap>{b.getMultiDimIdentityMap(2)},
      SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value r = linalg::IndexOp::create(nb, l, 0);
        Value q = linalg::IndexOp::create(nb, l, 1);
        Value e = expertOfRow(nb, l, op, r);
        Value outside = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt,
                                              e, indexConstant(nb, l, 0));
        // Rows outside every group keep init's values.
        auto choice = scf::IfOp::create(
            nb, l, outside,
            [&](OpBuilder &tb, Location tl) {
              scf::YieldOp::create(tb, tl, args[0]);
            },
            [&](OpBuilder &eb, Location el) {
              scf::YieldOp::create(eb, el, expertElement(eb, el, op, e, r, q));
            });
        linalg::YieldOp::create(nb, l, choice.getResult(0));
      });
  op.getResult().replaceAllUsesWith(generic.getResult(0));
  op.erase();
  return success();
}

/// The named MLP form of `moe.experts` on `[E, M, d]` slots as the data
/// path: the slots as `E * M` rows in uniform groups of `M`, the two grouped
/// GEMMs (bias and activation in the epilogue), the rows back as `[E, M,
/// d_out]`. Leaves the region form and dynamic shapes alone.
void expertsAsGroupedMatmuls(ExpertsOp experts) {
  auto input = cast<RankedTensorType>(experts.getInput().getType());
  auto result = cast<RankedTensorType>(experts.getResult().getType());
  if (!experts.isMLP() || !input.hasStaticShape() || !result.hasStaticShape())
    return;
  OpBuilder b(experts);
  Location loc = experts.getLoc();
  int64_t e = input.getDimSize(0), m = input.getDimSize(1);
  Type element = input.getElementType();
  SmallVector<ReassociationIndices> rows = {{0, 1}, {2}};
  Value x = tensor::CollapseShapeOp::create(b, loc, experts.getInput(), rows);
  SmallVector<int32_t> offsetValues;
  for (int64_t g = 0; g <= e; ++g)
    offsetValues.push_back(static_cast<int32_t>(g * m));
  Value offsets = arith::ConstantOp::create(
      b, loc,
      DenseIntElementsAttr::get(RankedTensorType::get({e + 1}, b.getI32Type()),
                                ArrayRef<int32_t>(offsetValues)));
  Activation activation = *experts.getActivation();
  int64_t hidden = experts.getHiddenSize();
  auto rowsOf = [&](int64_t width) {
    return emptyTensor(b, loc, {e * m, width}, element);
  };
  Value h = GroupedMatmulOp::create(
      b, loc, tensorType({e * m, hidden}, element), x, Value(),
      experts.getUpWeight(), offsets, experts.getUpBias(), Value(),
      rowsOf(hidden), ActivationAttr::get(b.getContext(), activation));
  int64_t dOut = result.getDimSize(2);
  Value y = GroupedMatmulOp::create(b, loc, tensorType({e * m, dOut}, element),
                                    h, Value(), experts.getDownWeight(),
                                    offsets, experts.getDownBias(), Value(),
                                    rowsOf(dOut), ActivationAttr());
  experts.getResult().replaceAllUsesWith(
      tensor::ExpandShapeOp::create(b, loc, result, y, rows));
  experts.erase();
}

struct MoEGpuLowerDataPath
    : impl::MoEGpuLowerDataPathBase<MoEGpuLowerDataPath> {
  using Base::Base;
  /// Whether option `name`'s `value` is `first` or `second` (else an
  /// error naming both).
  bool isOneOf(StringRef name, StringRef value, StringRef first,
               StringRef second) {
    if (value == first || value == second)
      return true;
    getOperation()->emitError()
        << "moe-gpu-lower-data-path: " << name << " must be '" << first
        << "' or '" << second << "', got '" << value << "'";
    return false;
  }

  void getDependentDialects(DialectRegistry &registry) const override {
    Base::getDependentDialects(registry);
    registerThreadGridMappingDialects(registry);
  }

  void runOnOperation() override {
    if (!isOneOf("kernel", kernel, "tiled", "elementwise") ||
        !isOneOf("precision", precision, "f32", "tf32"))
      return signalPassFailure();
    SmallVector<ExpertsOp> experts;
    getOperation()->walk([&](ExpertsOp op) { experts.push_back(op); });
    for (ExpertsOp op : experts)
      expertsAsGroupedMatmuls(op);
    SmallVector<GroupedMatmulOp> ops;
    getOperation()->walk([&](GroupedMatmulOp op) { ops.push_back(op); });
    for (GroupedMatmulOp op : ops) {
      GroupedMatmulTiles tiles =
          tilesFor(op, /*tensorCores=*/precision == "tf32");
      if (kernel == "tiled" && canBuildTiledGroupedMatmul(op, tiles)) {
        OpBuilder b(op);
        FailureOr<Value> tiled = buildTiledGroupedMatmul(b, op, tiles);
        if (failed(tiled))
          return signalPassFailure();
        op.getResult().replaceAllUsesWith(*tiled);
        op.erase();
        continue;
      }
      // Shapes the tiled kernel does not take: one thread per element.
      if (failed(lowerGroupedMatmul(op)))
        return signalPassFailure();
    }
  }
};

} // namespace
} // namespace mlir::moe
