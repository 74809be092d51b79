//===- GroupedMatmulKernel.cpp - The tiled grouped GEMM as a GPU kernel ---===//
//
// One `gpu.launch`, built on the tensor level between `to_buffer`s of the
// operands and a `to_tensor` of the result, so that the rest of the pipeline
// (bufferization, kernel forming) passes it through:
//
//   block b: row tile b / colTiles (of one expert: its rows [start, end)),
//            column tile b % colTiles
//   for k0 in 0..K step depth:
//     the gathered A tile (rows x depth) and the weight tile (depth x
//     columns, both halves with swiglu) into workgroup memory; barrier
//     each thread: its micro-tile += A column * weight row, k increasing
//     barrier
//   each thread: epilogue (activation, swiglu, row scale), stores in range
//
// The row tiles: the padded layout's uniform groups of C rows have
// ceil(C / rows) tiles each, found by division; ragged groups at most
// ceil(N / rows) + E in all, found by a walk over the offsets, and blocks
// past the last tile do nothing. Every result element is the bias plus its
// products summed in increasing `k`, as the element-wise kernel sums.
//
// The blocks and each block's threads (with tensor cores, its warps and
// their lanes) are built as `scf.forall` loops and mapped onto the launch by
// upstream's transform ops (mapLaunchLoops); the thread loop holds the
// thread's whole program, so its accumulators stay in registers across the
// `k` loop.
//
//===----------------------------------------------------------------------===//

#include "passes/gpu/GroupedMatmulKernel.h"

#include "dialect/Activation.h"
#include "dialect/DataPath.h"
#include "passes/common/TensorBuilders.h"
#include "passes/gpu/GpuHardware.h"
#include "passes/gpu/ThreadGridMapping.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::moe {
namespace {

/// With tensor cores: a warp's tile of results (2 x 2 pieces of mma.sync's
/// 16 x 8).
constexpr int64_t kWarpTileRows = 32, kWarpTileColumns = 16;

class KernelBuilder {
public:
  KernelBuilder(ImplicitLocOpBuilder &b, GroupedMatmulOp op,
                const GroupedMatmulTiles &tiles)
      : b(b), op(op), tiles(tiles) {}

  /// Builds the launch; returns the result tensor. Fails, with an error,
  /// where the upstream mapping of its loops does.
  FailureOr<Value> build();

private:
  Value constant(int64_t value) {
    return arith::ConstantIndexOp::create(b, value);
  }
  Value zero() {
    return arith::ConstantOp::create(b, b.getFloatAttr(type, 0.0));
  }
  /// `value` (a float) as the accumulation type.
  Value toAccumulator(Value value) {
    return convertFloat(b, b.getLoc(), value, type);
  }
  Value asIndex(Value value) { return toIndex(b, b.getLoc(), value); }
  Value lessThan(Value x, Value y) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::slt, x, y);
  }
  Value min(Value x, Value y) { return arith::MinSIOp::create(b, x, y); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, x, y); }
  /// A read-only buffer of `tensor`.
  Value buffer(Value tensor);
  /// An `scf.for` whose body `body` builds (at its end, with `b`) from the
  /// induction variable and the iteration values, returning the next ones.
  scf::ForOp loop(Value lower, Value upper, Value step, ValueRange initial,
                  function_ref<SmallVector<Value>(Value, ValueRange)> body);
  /// `condition ? then() : otherwise()`, each built in its own branch.
  Value branch(Value condition, function_ref<Value()> then,
               function_ref<Value()> otherwise);

  /// The launch's loops, at the builder's insertion point: one block per
  /// tile (`blocks` of them, `colTiles` per row tile), in it the threads
  /// (or the warps' lanes) computing it.
  void buildBlocks(int64_t blocks, int64_t colTiles);
  /// The thread loop (`thread`, `threadRow`, `threadColumn`), or with
  /// tensor cores the warp and lane loops (and `warpRow`, `warpColumn`,
  /// `laneGroup`, `laneInGroup`); moves the builder into the innermost.
  void buildThreads();
  /// The expert of row tile `rowTile` and its rows `[start, end)`; the
  /// expert is -1 for a tile past the last one.
  std::tuple<Value, Value, Value> locateRowTile(Value rowTile);
  /// The block's work for `expert`'s rows `[start, end)` from column `n0`.
  void buildTile(Value expert, Value start, Value end, Value n0);
  /// The tile positions of the thread's results (`ownedRows`,
  /// `ownedColumns`).
  void ownResults();
  /// The accumulators after the products of the staged tiles.
  SmallVector<Value> multiplyStep(ValueRange sums);
  /// Stages the A and weight tiles of step `k0` in workgroup memory.
  void stageTiles(Value expert, Value start, Value end, Value n0, Value k0);

  ImplicitLocOpBuilder &b;
  GroupedMatmulOp op;
  const GroupedMatmulTiles &tiles;

  Type type;
  int64_t rows = 0, outColumns = 0, depth = 0, inputRows = 0;
  bool swiglu = false;
  std::optional<int64_t> groupSize;
  // Buffers.
  Value input, gather, weight, offsets, bias, scale, out;
  // Workgroup memory: the A tile (depth x rows, transposed so that a thread
  // reads its rows' values of one k side by side) and the weight tiles.
  Value aTile;
  SmallVector<Value> weightTiles;
  Value thread, threadRow, threadColumn;
  // With tensor cores: the warp's first row and column, the lane's group
  // and place in it (of four).
  Value warpRow, warpColumn, laneGroup, laneInGroup;
  SmallVector<Value> ownedRows, ownedColumns;
};

Value KernelBuilder::buffer(Value tensor) {
  if (!tensor)
    return {};
  auto tensorType = cast<RankedTensorType>(tensor.getType());
  return bufferization::ToBufferOp::create(
      b, MemRefType::get(tensorType.getShape(), tensorType.getElementType()),
      tensor, /*read_only=*/true);
}

scf::ForOp
KernelBuilder::loop(Value lower, Value upper, Value step, ValueRange initial,
                    function_ref<SmallVector<Value>(Value, ValueRange)> body) {
  auto forOp = scf::ForOp::create(b, lower, upper, step, initial);
  OpBuilder::InsertionGuard guard(b);
  Block *block = forOp.getBody();
  if (!block->empty())
    block->getTerminator()->erase();
  b.setInsertionPointToEnd(block);
  scf::YieldOp::create(
      b, body(forOp.getInductionVar(), forOp.getRegionIterArgs()));
  return forOp;
}

Value KernelBuilder::branch(Value condition, function_ref<Value()> then,
                            function_ref<Value()> otherwise) {
  auto ifOp = scf::IfOp::create(b, TypeRange{type}, condition,
                                /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(ifOp.thenBlock());
  scf::YieldOp::create(b, then());
  b.setInsertionPointToEnd(ifOp.elseBlock());
  scf::YieldOp::create(b, otherwise());
  return ifOp.getResult(0);
}

void KernelBuilder::buildBlocks(int64_t blocks, int64_t colTiles) {
  MLIRContext *context = b.getContext();
  Value block = buildMappedLoop(
      b, b.getLoc(), blocks,
      gpu::GPUBlockMappingAttr::get(context, gpu::MappingId::DimX));
  Value rowTile = arith::DivUIOp::create(b, block, constant(colTiles));
  Value n0 = mul(arith::RemUIOp::create(b, block, constant(colTiles)),
                 constant(tiles.columns));
  auto [expert, start, end] = locateRowTile(rowTile);
  // Whether the block has a tile: the same for all its threads, so every
  // barrier inside is reached by all or none.
  Value hasTile =
      arith::CmpIOp::create(b, arith::CmpIPredicate::sge, expert, constant(0));
  auto work = scf::IfOp::create(b, hasTile, /*withElseRegion=*/false);
  b.setInsertionPointToStart(work.thenBlock());
  buildThreads();
  buildTile(expert, start, end, n0);
}

void KernelBuilder::buildThreads() {
  MLIRContext *context = b.getContext();
  if (!tiles.tensorCores) {
    thread = buildMappedLoop(
        b, b.getLoc(), tiles.threadRows * tiles.threadColumns,
        gpu::GPUThreadMappingAttr::get(context, gpu::MappingId::DimX));
    threadRow =
        arith::DivUIOp::create(b, thread, constant(tiles.threadColumns));
    threadColumn =
        arith::RemUIOp::create(b, thread, constant(tiles.threadColumns));
    return;
  }
  // The warps tile the block's results, warpColumns side by side.
  int64_t warpColumns = tiles.columns / kWarpTileColumns;
  int64_t warps = (tiles.rows / kWarpTileRows) * warpColumns;
  Value warp = buildMappedLoop(
      b, b.getLoc(), warps,
      gpu::GPUWarpMappingAttr::get(context, gpu::MappingId::DimX));
  Value lane = buildMappedLoop(
      b, b.getLoc(), kWarpSize,
      gpu::GPULaneMappingAttr::get(context, gpu::MappingId::DimX));
  thread = add(mul(warp, constant(kWarpSize)), lane);
  warpRow = mul(arith::DivUIOp::create(b, warp, constant(warpColumns)),
                constant(kWarpTileRows));
  warpColumn = mul(arith::RemUIOp::create(b, warp, constant(warpColumns)),
                   constant(kWarpTileColumns));
  laneGroup = arith::DivUIOp::create(b, lane, constant(4));
  laneInGroup = arith::RemUIOp::create(b, lane, constant(4));
}

std::tuple<Value, Value, Value> KernelBuilder::locateRowTile(Value rowTile) {
  int64_t size = tiles.rows;
  if (groupSize) {
    int64_t perExpert = llvm::divideCeil(*groupSize, size);
    Value expert = arith::DivUIOp::create(b, rowTile, constant(perExpert));
    Value tile = arith::RemUIOp::create(b, rowTile, constant(perExpert));
    Value first = mul(expert, constant(*groupSize));
    Value start = add(first, mul(tile, constant(size)));
    Value end =
        min(add(start, constant(size)), add(first, constant(*groupSize)));
    return {expert, start, end};
  }
  // Walk the groups, counting their tiles, until the one holding rowTile.
  Value none = constant(-1), zeroIndex = constant(0);
  scf::ForOp walk = loop(
      zeroIndex, constant(op.getNumExperts()), constant(1),
      ValueRange{zeroIndex, none, zeroIndex, zeroIndex},
      [&](Value e, ValueRange state) -> SmallVector<Value> {
        Value first = asIndex(memref::LoadOp::create(b, offsets, e));
        Value next = asIndex(memref::LoadOp::create(
            b, offsets, ValueRange{add(e, constant(1))}));
        Value count = arith::MaxSIOp::create(
            b, arith::SubIOp::create(b, next, first), constant(0));
        Value groupTiles = arith::CeilDivUIOp::create(b, count, constant(size));
        Value seen = state[0];
        Value after = add(seen, groupTiles);
        Value inside = arith::AndIOp::create(
            b,
            arith::CmpIOp::create(b, arith::CmpIPredicate::sle, seen, rowTile),
            lessThan(rowTile, after));
        Value start = add(first, mul(arith::SubIOp::create(b, rowTile, seen),
                                     constant(size)));
        // (Clamped to the rows, whatever the offsets say.)
        Value end = min(min(add(start, constant(size)), add(first, count)),
                        constant(rows));
        return {after, arith::SelectOp::create(b, inside, e, state[1]),
                arith::SelectOp::create(b, inside, start, state[2]),
                arith::SelectOp::create(b, inside, end, state[3])};
      });
  return {walk.getResult(1), walk.getResult(2), walk.getResult(3)};
}

void KernelBuilder::stageTiles(Value expert, Value start, Value end, Value n0,
                               Value k0) {
  int64_t threads = tiles.threadRows * tiles.threadColumns;
  Value kLimit = constant(depth);
  // The A tile: consecutive threads read consecutive k of a row.
  for (int64_t l = 0; l < tiles.rows * tiles.depth / threads; ++l) {
    Value index = add(thread, constant(l * threads));
    Value row = arith::DivUIOp::create(b, index, constant(tiles.depth));
    Value kk = arith::RemUIOp::create(b, index, constant(tiles.depth));
    Value r = add(start, row), k = add(k0, kk);
    Value inRange =
        arith::AndIOp::create(b, lessThan(r, end), lessThan(k, kLimit));
    // No input rows (every gathered row is -1): the A tile is zeros.
    Value a = inputRows == 0
                  ? zero()
                  : branch(
                        inRange,
                        [&] {
                          Value source = r, empty;
                          if (gather) {
                            auto [none, row] =
                                rowToRead(b, b.getLoc(),
                                          memref::LoadOp::create(b, gather, r));
                            empty = none;
                            source = row;
                          }
                          Value value = toAccumulator(memref::LoadOp::create(
                              b, input, ValueRange{source, k}));
                          return empty ? arith::SelectOp::create(b, empty,
                                                                 zero(), value)
                                       : value;
                        },
                        [&] { return zero(); });
    memref::StoreOp::create(b, a, aTile, ValueRange{kk, row});
  }
  // The weight tiles: consecutive threads read consecutive columns.
  for (int64_t l = 0; l < tiles.depth * tiles.columns / threads; ++l) {
    Value index = add(thread, constant(l * threads));
    Value kk = arith::DivUIOp::create(b, index, constant(tiles.columns));
    Value j = arith::RemUIOp::create(b, index, constant(tiles.columns));
    Value q = add(n0, j), k = add(k0, kk);
    Value inRange = arith::AndIOp::create(b, lessThan(q, constant(outColumns)),
                                          lessThan(k, kLimit));
    // Clamped indices stay inside the weight; out of range reads zeros.
    Value kRead = min(k, constant(depth - 1));
    Value qRead = min(q, constant(outColumns - 1));
    for (auto [half, tile] : llvm::enumerate(weightTiles)) {
      Value column = add(qRead, constant(half * outColumns));
      Value w = toAccumulator(
          memref::LoadOp::create(b, weight, ValueRange{expert, kRead, column}));
      memref::StoreOp::create(b, arith::SelectOp::create(b, inRange, w, zero()),
                              tile, ValueRange{kk, j});
    }
  }
}

void KernelBuilder::ownResults() {
  if (!tiles.tensorCores) {
    // Rows threadRow + i * threadRows, columns threadColumn + j *
    // threadColumns (consecutive threads, consecutive columns).
    SmallVector<Value> rows, columns;
    for (int64_t i = 0; i < tiles.rows / tiles.threadRows; ++i)
      rows.push_back(add(threadRow, constant(i * tiles.threadRows)));
    for (int64_t j = 0; j < tiles.columns / tiles.threadColumns; ++j)
      columns.push_back(add(threadColumn, constant(j * tiles.threadColumns)));
    for (Value row : rows)
      for (Value column : columns) {
        ownedRows.push_back(row);
        ownedColumns.push_back(column);
      }
    return;
  }
  // mma.sync m16n8k8: warp w holds rows (w / warpColumns) * warpRows ..,
  // columns (w % warpColumns) * warpCols ..; in each 16 x 8 piece, lane l
  // (group g = l / 4, t = l % 4) holds c0, c1 at row g, columns 2t, 2t + 1
  // and c2, c3 at row g + 8 (PTX ISA, "Matrix Fragments for mma.m16n8k8").
  Value group = laneGroup, inGroup = laneInGroup;
  for (int64_t mi = 0; mi < kWarpTileRows / 16; ++mi)
    for (int64_t ni = 0; ni < kWarpTileColumns / 8; ++ni)
      for (int64_t c = 0; c < 4; ++c) {
        ownedRows.push_back(
            add(warpRow, add(group, constant(mi * 16 + (c / 2) * 8))));
        ownedColumns.push_back(add(warpColumn, add(mul(inGroup, constant(2)),
                                                   constant(ni * 8 + c % 2))));
      }
}

SmallVector<Value> KernelBuilder::multiplyStep(ValueRange sums) {
  int64_t owned = ownedRows.size();
  if (!tiles.tensorCores) {
    scf::ForOp inner = loop(
        constant(0), constant(tiles.depth), constant(1), sums,
        [&](Value kk, ValueRange partial) {
          SmallVector<Value> next(partial.begin(), partial.end());
          // One load per distinct row and column.
          DenseMap<Value, Value> a;
          for (Value row : ownedRows)
            if (!a.count(row))
              a[row] = memref::LoadOp::create(b, aTile, ValueRange{kk, row});
          for (auto [half, tile] : llvm::enumerate(weightTiles)) {
            DenseMap<Value, Value> w;
            for (int64_t at = 0; at < owned; ++at) {
              Value column = ownedColumns[at];
              if (!w.count(column))
                w[column] =
                    memref::LoadOp::create(b, tile, ValueRange{kk, column});
              int64_t index = half * owned + at;
              next[index] = arith::AddFOp::create(
                  b, next[index],
                  arith::MulFOp::create(b, a[ownedRows[at]], w[column]));
            }
          }
          return next;
        });
    return SmallVector<Value>(inner.getResults());
  }
  // Steps of k8: the A fragment (a0: row g, k t; a1: row g + 8; a2, a3: the
  // same at k t + 4), the weight fragment (b0: k t, column g; b1: k t + 4),
  // then one mma.sync per 16 x 8 piece.
  SmallVector<Value> next(sums.begin(), sums.end());
  auto aType = VectorType::get({4, 1}, type);
  auto bType = VectorType::get({2, 1}, type);
  auto cType = VectorType::get({2, 2}, type);
  for (int64_t k8 = 0; k8 < tiles.depth; k8 += 8) {
    Value k = add(laneInGroup, constant(k8));
    Value kHigh = add(k, constant(4));
    SmallVector<Value> aFragments;
    for (int64_t mi = 0; mi < kWarpTileRows / 16; ++mi) {
      Value row = add(warpRow, add(laneGroup, constant(mi * 16)));
      Value rowHigh = add(row, constant(8));
      SmallVector<Value> elements = {
          memref::LoadOp::create(b, aTile, ValueRange{k, row}),
          memref::LoadOp::create(b, aTile, ValueRange{k, rowHigh}),
          memref::LoadOp::create(b, aTile, ValueRange{kHigh, row}),
          memref::LoadOp::create(b, aTile, ValueRange{kHigh, rowHigh})};
      aFragments.push_back(vector::FromElementsOp::create(b, aType, elements));
    }
    for (auto [half, tile] : llvm::enumerate(weightTiles))
      for (int64_t ni = 0; ni < kWarpTileColumns / 8; ++ni) {
        Value column = add(warpColumn, add(laneGroup, constant(ni * 8)));
        SmallVector<Value> elements = {
            memref::LoadOp::create(b, tile, ValueRange{k, column}),
            memref::LoadOp::create(b, tile, ValueRange{kHigh, column})};
        Value bFragment = vector::FromElementsOp::create(b, bType, elements);
        for (int64_t mi = 0; mi < kWarpTileRows / 16; ++mi) {
          int64_t first = half * owned + (mi * (kWarpTileColumns / 8) + ni) * 4;
          Value c = vector::FromElementsOp::create(
              b, cType, ArrayRef<Value>(next).slice(first, 4));
          Value d = nvgpu::MmaSyncOp::create(b, aFragments[mi], bFragment, c,
                                             ArrayRef<int64_t>{16, 8, 8},
                                             /*tf32Enabled=*/true);
          for (int64_t e = 0; e < 4; ++e)
            next[first + e] = vector::ExtractOp::create(
                b, d, ArrayRef<int64_t>{e / 2, e % 2});
        }
      }
  }
  return next;
}

void KernelBuilder::buildTile(Value expert, Value start, Value end, Value n0) {
  ownResults();
  int64_t owned = ownedRows.size();
  int64_t halves = weightTiles.size();
  // The thread's accumulators [half][owned result], starting at the bias.
  SmallVector<Value> initial;
  for (int64_t half = 0; half < halves; ++half)
    for (Value column : ownedColumns) {
      if (!bias) {
        initial.push_back(zero());
        continue;
      }
      Value q = min(add(n0, column), constant(outColumns - 1));
      initial.push_back(toAccumulator(memref::LoadOp::create(
          b, bias, ValueRange{expert, add(q, constant(half * outColumns))})));
    }
  scf::ForOp steps =
      loop(constant(0), constant(depth), constant(tiles.depth), initial,
           [&](Value k0, ValueRange sums) -> SmallVector<Value> {
             stageTiles(expert, start, end, n0, k0);
             gpu::BarrierOp::create(b);
             SmallVector<Value> next = multiplyStep(sums);
             gpu::BarrierOp::create(b);
             return next;
           });
  // The epilogue of each result in range.
  std::optional<Activation> activation = op.getActivation();
  for (int64_t at = 0; at < owned; ++at) {
    Value r = add(start, ownedRows[at]);
    Value q = add(n0, ownedColumns[at]);
    Value inRange = arith::AndIOp::create(b, lessThan(r, end),
                                          lessThan(q, constant(outColumns)));
    auto store = scf::IfOp::create(b, inRange, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(store.thenBlock());
    Value v = steps.getResult(at);
    if (swiglu)
      v = arith::MulFOp::create(
          b, activateScalar(b, b.getLoc(), Activation::silu, v),
          steps.getResult(owned + at));
    else if (activation)
      v = activateScalar(b, b.getLoc(), *activation, v);
    if (scale)
      v = arith::MulFOp::create(
          b, v, toAccumulator(memref::LoadOp::create(b, scale, r)));
    memref::StoreOp::create(b, v, out, ValueRange{r, q});
  }
}

FailureOr<Value> KernelBuilder::build() {
  auto initType = cast<RankedTensorType>(op.getInit().getType());
  type = initType.getElementType();
  rows = initType.getDimSize(0);
  outColumns = initType.getDimSize(1);
  depth = op.getWeight().getType().getDimSize(1);
  inputRows = op.getInput().getType().getDimSize(0);
  swiglu = op.getActivation() == Activation::swiglu;
  groupSize = uniformGroupSize(op.getOffsets());
  int64_t experts = op.getNumExperts();

  input = buffer(op.getInput());
  gather = buffer(op.getGather());
  weight = buffer(op.getWeight());
  offsets = buffer(op.getOffsets());
  bias = buffer(op.getBias());
  scale = buffer(op.getScale());
  out = memref::AllocOp::create(b, MemRefType::get(initType.getShape(), type));
  // Rows outside every group keep the init (the padded layout's groups
  // cover every row; an empty init has nothing to keep).
  bool everyRowInGroup = groupSize && *groupSize * experts == rows;
  if (!everyRowInGroup && !op.getInit().getDefiningOp<tensor::EmptyOp>())
    linalg::CopyOp::create(b, buffer(op.getInit()), out);

  int64_t colTiles = llvm::divideCeil(outColumns, tiles.columns);
  int64_t rowTiles = groupSize
                         ? experts * llvm::divideCeil(*groupSize, tiles.rows)
                         : llvm::divideCeil(rows, tiles.rows) + experts;
  int64_t blocks = rowTiles * colTiles;
  if (blocks > 0) {
    int64_t threads = tiles.threadRows * tiles.threadColumns;
    // (Sizes made in order: the IR does not depend on the host compiler's
    // order of evaluating arguments.)
    Value one = constant(1), gridSize = constant(blocks),
          blockSize = constant(threads);
    auto launch = gpu::LaunchOp::create(b, b.getLoc(), gridSize, one, one,
                                        blockSize, one, one);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&launch.getBody().front());
      auto terminator = gpu::TerminatorOp::create(b);
      b.setInsertionPoint(terminator);
      // Workgroup memory first: the kernel's entry block holds it.
      auto tileType = [&](int64_t columns) {
        return workgroupMemRefType({tiles.depth, columns}, type);
      };
      aTile = memref::AllocOp::create(b, tileType(tiles.rows));
      for (int64_t half = 0; half < (swiglu ? 2 : 1); ++half)
        weightTiles.push_back(
            memref::AllocOp::create(b, tileType(tiles.columns)));
      buildBlocks(blocks, colTiles);
    }
    if (failed(mapLaunchLoops(launch, blocks, threads)))
      return failure();
  }
  return Value(bufferization::ToTensorOp::create(
      b, initType, out, /*restrict=*/true, /*writable=*/true));
}

} // namespace

GroupedMatmulTiles tilesFor(GroupedMatmulOp op, bool tensorCores) {
  GroupedMatmulTiles tiles;
  tiles.tensorCores = tensorCores;
  std::optional<int64_t> groupSize = uniformGroupSize(op.getOffsets());
  if (!groupSize)
    return tiles;
  if (!tensorCores && *groupSize <= 16) {
    // 4 x 64 threads, each 4 x 4 results.
    tiles.rows = 16;
    tiles.columns = 256;
    tiles.threadRows = 4;
    tiles.threadColumns = 64;
  } else if (tensorCores && *groupSize <= 32) {
    // 8 warps side by side, each 32 x 16 results.
    tiles.rows = 32;
    tiles.columns = 128;
  }
  return tiles;
}

bool canBuildTiledGroupedMatmul(GroupedMatmulOp op,
                                const GroupedMatmulTiles &tiles) {
  if (ShapedType::isDynamic(op.getNumExperts()))
    return false;
  for (Value operand : op->getOperands())
    if (!cast<ShapedType>(operand.getType()).hasStaticShape())
      return false;
  // Tensor cores take f32 (as tf32) here, in warps tiling the block.
  return !tiles.tensorCores ||
         (op.getInit().getType().getElementType().isF32() &&
          tiles.rows % kWarpTileRows == 0 &&
          tiles.columns % kWarpTileColumns == 0 && tiles.depth % 8 == 0 &&
          (tiles.rows / kWarpTileRows) * (tiles.columns / kWarpTileColumns) *
                  kWarpSize ==
              tiles.threadRows * tiles.threadColumns);
}

FailureOr<Value> buildTiledGroupedMatmul(OpBuilder &builder, GroupedMatmulOp op,
                                         const GroupedMatmulTiles &tiles) {
  assert(canBuildTiledGroupedMatmul(op, tiles) && "tiles that do not apply");
  ImplicitLocOpBuilder b(op.getLoc(), builder);
  return KernelBuilder(b, op, tiles).build();
}

} // namespace mlir::moe
