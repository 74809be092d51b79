//===- FormKernels.cpp - The entry's work as GPU kernels ------------------===//
//
// `moe-gpu-form-kernels`: after bufferization, on loops (linalg ops as
// `scf.parallel` nests), the prepared entry becomes a sequence of
// `gpu.launch` ops and nothing else that touches memory:
//
// - every outermost `scf.forall` (a grid of the target-neutral tiling) is a
//   launch of one block per iteration;
// - every outermost `scf.parallel` nest of constant bounds, without
//   allocations and of more iterations than a one-block launch has threads
//   is a grid of one iteration per thread (ThreadGridMapping.h: upstream's
//   transform ops map it onto blocks and threads);
// - the code between two grids (routing: Sinkhorn's iterations, statistics,
//   smaller parallel nests) is a launch of one block of
//   `single-block-threads` threads;
// - in each block, every `scf.parallel` nest at the block's uniform level is
//   shared out over the block's threads (a block-stride loop), stores and
//   copies at the uniform level are done by thread 0, with barriers around
//   both, so every thread sees every write of the block;
// - memory the entry allocated is a slice of one workspace buffer (a new
//   last argument, `memref<Wxi8>`): the entry's own buffers, and the
//   buffers allocated inside a launch in its scratch area, one slice per
//   block and per iteration of the uniform loops around the allocation
//   (sizes bounded with the value-bounds analysis); buffers whose launches
//   do not overlap share bytes (WorkspacePacking.h);
// - a value computed in one launch and used by a later one goes through a
//   workspace buffer.
//
// The module attribute `moe.workspace_bytes` records W.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/common/Allocations.h"
#include "passes/common/TensorBuilders.h"
#include "passes/entry/EntryFunction.h"
#include "passes/gpu/ThreadGridMapping.h"
#include "passes/gpu/WorkspacePacking.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ValueBoundsOpInterface.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"

#include <limits>

namespace mlir::moe {
#define GEN_PASS_DEF_MOEGPUFORMKERNELS
#include "passes/Passes.h.inc"

namespace {

/// Alignment of every buffer in the workspace, in bytes.
constexpr int64_t kBufferAlignment = 64;

/// The dimensions of a loop that upstream's mapping linearizes onto GPU
/// blocks (`#gpu.block<linear_dim_0>` to `<linear_dim_9>`).
constexpr int64_t kMaxLinearBlockDims = 10;

int64_t alignTo(int64_t bytes) {
  return llvm::alignTo(bytes, kBufferAlignment);
}

/// Bytes of one element in device memory (i1 is stored as a byte, index as
/// 64 bits).
int64_t elementBytes(Type type) {
  if (type.isIndex())
    return 8;
  return llvm::divideCeil(type.getIntOrFloatBitWidth(), 8);
}

/// Whether `op` can be copied into every launch that uses its result: it
/// touches no memory and holds no code (constants, index arithmetic, views).
bool isSinkable(Operation *op) {
  return op->getNumRegions() == 0 && isMemoryEffectFree(op) &&
         op->getNumResults() > 0;
}

/// `(ub - lb) ceildiv step` as a constant, or nullopt.
std::optional<int64_t> constantTripCount(OpFoldResult lb, OpFoldResult ub,
                                         OpFoldResult step) {
  std::optional<int64_t> l = getConstantIntValue(lb),
                         u = getConstantIntValue(ub),
                         s = getConstantIntValue(step);
  if (!l || !u || !s || *s <= 0)
    return std::nullopt;
  return *u > *l ? llvm::divideCeil(*u - *l, *s) : 0;
}

/// The induction variables of iteration `index` of a loop nest of `trips`
/// iterations per dimension (the last the fastest): `lb + digit * step`.
SmallVector<Value> delinearize(OpBuilder &b, Location loc, Value index,
                               ValueRange trips, ValueRange lbs,
                               ValueRange steps) {
  SmallVector<Value> ivs(trips.size());
  Value rest = index;
  for (int64_t d = trips.size() - 1; d >= 0; --d) {
    Value digit =
        d == 0 ? rest : arith::RemUIOp::create(b, loc, rest, trips[d]);
    if (d != 0)
      rest = arith::DivUIOp::create(b, loc, rest, trips[d]);
    ivs[d] = arith::AddIOp::create(
        b, loc, lbs[d], arith::MulIOp::create(b, loc, digit, steps[d]));
  }
  return ivs;
}

/// Rewrites `memref.copy` as an `scf.parallel` nest of loads and stores (the
/// form the thread mapping shares out and both GPU targets lower).
void expandCopies(Region &region) {
  SmallVector<memref::CopyOp> copies;
  region.walk([&](memref::CopyOp copy) { copies.push_back(copy); });
  for (memref::CopyOp copy : copies) {
    OpBuilder b(copy);
    Location loc = copy.getLoc();
    auto type = cast<MemRefType>(copy.getSource().getType());
    SmallVector<Value> lbs, ubs, steps;
    for (int64_t d = 0; d < type.getRank(); ++d) {
      lbs.push_back(indexConstant(b, loc, 0));
      ubs.push_back(memref::DimOp::create(b, loc, copy.getSource(), d));
      steps.push_back(indexConstant(b, loc, 1));
    }
    if (type.getRank() == 0) {
      Value v = memref::LoadOp::create(b, loc, copy.getSource());
      memref::StoreOp::create(b, loc, v, copy.getTarget());
    } else {
      scf::ParallelOp::create(
          b, loc, lbs, ubs, steps,
          [&](OpBuilder &nb, Location nloc, ValueRange ivs) {
            Value v = memref::LoadOp::create(nb, nloc, copy.getSource(), ivs);
            memref::StoreOp::create(nb, nloc, v, copy.getTarget(), ivs);
          });
    }
    copy.erase();
  }
}

/// `scf.parallel` in a thread's code (`block`, the body of a shared-out
/// loop) runs on its thread: nested `scf.for` loops (in the same order).
void serializeParallelLoops(Block &block) {
  // Innermost first: each loop's body is final when it is copied.
  SmallVector<scf::ParallelOp> loops;
  block.walk([&](scf::ParallelOp loop) { loops.push_back(loop); });
  for (scf::ParallelOp loop : loops) {
    OpBuilder b(loop);
    Location loc = loop.getLoc();
    SmallVector<Value> ivs;
    std::function<void(OpBuilder &, unsigned)> build = [&](OpBuilder &nb,
                                                           unsigned d) {
      if (d == loop.getNumLoops()) {
        IRMapping map;
        map.map(loop.getInductionVars(), ivs);
        for (Operation &op : loop.getBody()->without_terminator())
          nb.clone(op, map);
        return;
      }
      scf::ForOp::create(nb, loc, loop.getLowerBound()[d],
                         loop.getUpperBound()[d], loop.getStep()[d],
                         ValueRange{},
                         [&](OpBuilder &fb, Location, Value iv, ValueRange) {
                           ivs.push_back(iv);
                           build(fb, d + 1);
                           ivs.pop_back();
                           scf::YieldOp::create(fb, loc);
                         });
    };
    build(b, 0);
    loop.erase();
  }
}

/// One launch being formed: its ops (top-level ops of the entry, in order)
/// and whether it is a grid (a single scf.forall).
struct Segment {
  SmallVector<Operation *> ops;
  scf::ForallOp grid;
  /// A parallel loop run as one iteration per thread.
  scf::ParallelOp threadGrid;
  /// A launch already formed.
  gpu::LaunchOp built;
};

/// The number of iterations of `loop` when its bounds are constants.
std::optional<int64_t> constantIterations(scf::ParallelOp loop) {
  int64_t total = 1;
  for (auto [lb, ub, step] :
       llvm::zip(loop.getLowerBound(), loop.getUpperBound(), loop.getStep())) {
    std::optional<int64_t> trips = constantTripCount(lb, ub, step);
    if (!trips)
      return std::nullopt;
    total *= *trips;
  }
  return total;
}

/// Whether `loop` can run as one iteration per thread: constant bounds, no
/// reductions, no allocation in its body.
bool isThreadGrid(scf::ParallelOp loop) {
  return loop.getInitVals().empty() && constantIterations(loop) &&
         !containsAllocation(loop);
}

class KernelFormer {
public:
  KernelFormer(func::FuncOp entry, int64_t threads, int64_t singleBlockThreads)
      : entry(entry), threads(threads), singleBlockThreads(singleBlockThreads) {
  }

  LogicalResult run();

private:
  /// Top-level allocations become views of the workspace.
  LogicalResult placeEntryBuffers();
  /// Splits the entry's ops into segments.
  void splitIntoSegments();
  /// Values a segment computes and later code uses go through buffers.
  LogicalResult passEscapingValues(Segment &segment);
  /// The launch of `segment`.
  FailureOr<gpu::LaunchOp> launch(Segment &segment);
  /// Copies the sinkable ops that `launch` uses into it.
  void sinkInto(gpu::LaunchOp launch);
  /// Shares the block's work out over its threads.
  LogicalResult mapToThreads(gpu::LaunchOp launch);
  LogicalResult mapBlock(Block &block, Value tid, Value nthreads);
  /// Allocations inside `launch` become slices of the scratch area.
  LogicalResult placeScratch(gpu::LaunchOp launch, int64_t blocks);

  /// A new buffer of the entry of `type` (static), in the workspace.
  Value entryBuffer(OpBuilder &b, Location loc, MemRefType type);
  /// Lays the entry's buffers and the launches' scratch areas out in the
  /// workspace by lifetime (WorkspacePacking.h); returns its size.
  int64_t packWorkspaceBuffers();

  func::FuncOp entry;
  /// Threads per block of a grid, and of a launch of one block.
  int64_t threads, singleBlockThreads;
  Value workspace;
  /// Bytes of the entry's buffers, each at its own offset until
  /// packWorkspaceBuffers lays them out by lifetime (the offset, as placed
  /// first, identifies a buffer's views).
  int64_t entryBytes = 0;
  /// The entry's buffers: first offset and bytes.
  SmallVector<std::pair<int64_t, int64_t>> entryBuffers;
  /// A launch's scratch area: its base offset (a constant the packing
  /// rewrites) and bytes, for all blocks.
  struct ScratchArea {
    gpu::LaunchOp launch;
    arith::ConstantOp base;
    int64_t bytes;
  };
  SmallVector<ScratchArea> scratchAreas;
  SmallVector<Segment> segments;
  /// Loads from workspace buffers standing for values computed in a launch
  /// (sunk into the launches that use them).
  llvm::SmallPtrSet<Operation *, 8> deviceValueLoads;
};

Value KernelFormer::entryBuffer(OpBuilder &b, Location loc, MemRefType type) {
  int64_t bytes = type.getNumElements() * elementBytes(type.getElementType());
  Value view = memref::ViewOp::create(
      b, loc, type, workspace, indexConstant(b, loc, entryBytes), ValueRange{});
  int64_t aligned = alignTo(std::max<int64_t>(bytes, 1));
  entryBuffers.emplace_back(entryBytes, aligned);
  entryBytes += aligned;
  return view;
}

int64_t KernelFormer::packWorkspaceBuffers() {
  // Launches run in the entry's order.
  DenseMap<Operation *, int64_t> launchIndex;
  for (Operation &op : entry.getBody().front())
    if (isa<gpu::LaunchOp>(op))
      launchIndex.try_emplace(&op, launchIndex.size());
  SmallVector<WorkspaceBuffer> buffers;
  DenseMap<int64_t, size_t> bufferAt;
  for (auto [offset, bytes] : entryBuffers) {
    bufferAt[offset] = buffers.size();
    buffers.push_back({bytes, std::numeric_limits<int64_t>::max(), -1});
  }
  auto touch = [&](size_t buffer, Operation *op) {
    auto launch = op->getParentOfType<gpu::LaunchOp>();
    if (!launch)
      return false;
    assert(launchIndex.count(launch) && "a launch outside the entry's order");
    int64_t index = launchIndex.lookup(launch);
    buffers[buffer].first = std::min(buffers[buffer].first, index);
    buffers[buffer].last = std::max(buffers[buffer].last, index);
    return true;
  };
  // The views of each buffer (its offset as placed first), and the launches
  // that use them: the view's own, or its users' (a view left outside).
  SmallVector<std::pair<memref::ViewOp, size_t>> views;
  entry.walk([&](memref::ViewOp view) {
    std::optional<int64_t> offset = getConstantIntValue(view.getByteShift());
    if (view.getSource() != workspace || !offset || !bufferAt.count(*offset))
      return;
    size_t buffer = bufferAt.lookup(*offset);
    views.emplace_back(view, buffer);
    if (touch(buffer, view))
      return;
    SmallVector<Value> values = {view.getResult()};
    while (!values.empty())
      for (Operation *user : values.pop_back_val().getUsers())
        if (!touch(buffer, user))
          llvm::append_range(values, user->getResults());
  });
  for (const ScratchArea &area : scratchAreas) {
    assert(launchIndex.count(area.launch) && "a launch outside the entry");
    int64_t index = launchIndex.lookup(area.launch);
    buffers.push_back({area.bytes, index, index});
  }
  WorkspaceLayout layout = packWorkspace(buffers);
  for (auto [view, buffer] : views) {
    OpBuilder b(view);
    view.getByteShiftMutable().assign(
        indexConstant(b, view.getLoc(), layout.offsets[buffer]));
  }
  ArrayRef<int64_t> scratchOffsets =
      ArrayRef(layout.offsets).drop_front(entryBuffers.size());
  for (auto [area, offset] : llvm::zip(scratchAreas, scratchOffsets))
    area.base.setValueAttr(
        IntegerAttr::get(IndexType::get(entry.getContext()), offset));
  return std::max<int64_t>(layout.bytes, 1);
}

LogicalResult KernelFormer::placeEntryBuffers() {
  Block &body = entry.getBody().front();
  for (Operation &op : llvm::make_early_inc_range(body)) {
    if (isa<memref::DeallocOp>(op)) {
      op.erase();
      continue;
    }
    if (!isa<memref::AllocOp, memref::AllocaOp>(op))
      continue;
    auto type = cast<MemRefType>(op.getResult(0).getType());
    if (!type.hasStaticShape() || !type.getLayout().isIdentity())
      return op.emitOpError("of a dynamic shape or a layout cannot be placed "
                            "in the GPU workspace");
    OpBuilder b(&op);
    Value view = entryBuffer(b, op.getLoc(), type);
    op.getResult(0).replaceAllUsesWith(view);
    op.erase();
  }
  return success();
}

void KernelFormer::splitIntoSegments() {
  Block &body = entry.getBody().front();
  Segment *open = nullptr;
  llvm::SmallPtrSet<Operation *, 32> inOpen;
  for (Operation &op : body.without_terminator()) {
    // Arithmetic on what the open segment computes is part of it.
    if (isSinkable(&op) &&
        !(open && llvm::any_of(op.getOperands(), [&](Value v) {
            return inOpen.contains(v.getDefiningOp());
          })))
      continue;
    // A kernel built before (the tiled grouped GEMM) launches as it is.
    if (auto launch = dyn_cast<gpu::LaunchOp>(op)) {
      segments.push_back(Segment{{launch}, {}, {}, launch});
      open = nullptr;
      continue;
    }
    if (auto forall = dyn_cast<scf::ForallOp>(op)) {
      segments.push_back(Segment{{forall}, forall, {}});
      open = nullptr;
      continue;
    }
    // A grid that one block's threads cover joins the one-block launch
    // around it (one launch fewer where such work follows other routing).
    if (auto loop = dyn_cast<scf::ParallelOp>(op);
        loop && isThreadGrid(loop) &&
        *constantIterations(loop) > singleBlockThreads) {
      segments.push_back(Segment{{loop}, {}, loop});
      open = nullptr;
      continue;
    }
    if (!open) {
      segments.push_back(Segment{});
      open = &segments.back();
      inOpen.clear();
    }
    open->ops.push_back(&op);
    inOpen.insert(&op);
  }
}

LogicalResult KernelFormer::passEscapingValues(Segment &segment) {
  llvm::SmallPtrSet<Operation *, 16> inside(segment.ops.begin(),
                                            segment.ops.end());
  Operation *last = segment.ops.back();
  // Whether `user` is code outside the segment.
  auto outside = [&](Operation *user) {
    return !inside.contains(
        entry.getBody().front().findAncestorOpInBlock(*user));
  };
  for (Operation *op : segment.ops) {
    for (Value result : op->getResults()) {
      bool escapes = llvm::any_of(result.getUsers(), outside);
      if (!escapes)
        continue;
      Location loc = op->getLoc();
      OpBuilder b(segment.ops.front());
      if (auto type = dyn_cast<MemRefType>(result.getType())) {
        if (!type.hasStaticShape())
          return op->emitOpError(
              "computes a buffer of dynamic shape that later kernels read");
        // The buffer of the value, filled at the end of the launch.
        Value buffer = entryBuffer(
            b, loc, MemRefType::get(type.getShape(), type.getElementType()));
        result.replaceUsesWithIf(
            buffer, [&](OpOperand &use) { return outside(use.getOwner()); });
        OpBuilder after(last->getBlock(), ++Block::iterator(last));
        auto copy = memref::CopyOp::create(after, loc, result, buffer);
        segment.ops.push_back(copy);
        last = copy;
        inside.insert(copy);
        continue;
      }
      if (!result.getType().isIntOrIndexOrFloat())
        return op->emitOpError("computes a value of type ")
               << result.getType() << " that later code uses";
      Value buffer =
          entryBuffer(b, loc, MemRefType::get({1}, result.getType()));
      OpBuilder after(last->getBlock(), ++Block::iterator(last));
      Value zero = indexConstant(after, loc, 0);
      auto store = memref::StoreOp::create(after, loc, result, buffer, zero);
      segment.ops.push_back(store);
      last = store;
      inside.insert(store);
      // Later launches read it back (the load is sunk into each).
      OpBuilder read(last->getBlock(), ++Block::iterator(last));
      auto load = memref::LoadOp::create(read, loc, buffer,
                                         indexConstant(read, loc, 0));
      deviceValueLoads.insert(load);
      result.replaceUsesWithIf(load, [&](OpOperand &use) {
        return use.getOwner() != store && outside(use.getOwner());
      });
    }
  }
  return success();
}

FailureOr<gpu::LaunchOp> KernelFormer::launch(Segment &segment) {
  if (segment.built) {
    sinkInto(segment.built);
    return segment.built;
  }
  Operation *first = segment.ops.front();
  Location loc = first->getLoc();
  OpBuilder b(first);
  int64_t blocks = 1;
  if (segment.grid) {
    for (auto [lb, ub, step] : llvm::zip(segment.grid.getMixedLowerBound(),
                                         segment.grid.getMixedUpperBound(),
                                         segment.grid.getMixedStep())) {
      std::optional<int64_t> trips = constantTripCount(lb, ub, step);
      if (!trips)
        return segment.grid.emitOpError(
            "of a size not known when the entry starts cannot be a grid of "
            "GPU blocks");
      blocks *= *trips;
    }
  }
  int64_t iterations = 0;
  if (segment.threadGrid) {
    iterations = *constantIterations(segment.threadGrid);
    blocks = std::max<int64_t>(llvm::divideCeil(iterations, threads), 1);
  }
  // A launch of one block has all the GPU's work of its loops to share
  // out: more threads.
  bool oneBlock = !segment.grid && !segment.threadGrid;
  // (Sizes made in order: the IR does not depend on the host compiler's
  // order of evaluating arguments.)
  Value one = indexConstant(b, loc, 1);
  Value gridSize = indexConstant(b, loc, blocks);
  Value blockSize =
      indexConstant(b, loc, oneBlock ? singleBlockThreads : threads);
  auto launch =
      gpu::LaunchOp::create(b, loc, gridSize, one, one, blockSize, one, one);
  Block &body = launch.getBody().front();
  OpBuilder inside = OpBuilder::atBlockEnd(&body);
  auto terminator = gpu::TerminatorOp::create(inside, loc);
  if (segment.grid) {
    // One block per iteration by upstream's mapping: the loop normalized
    // (from 0 by 1) and its dimensions linearized onto block x, the
    // outermost slowest.
    IRRewriter rewriter(segment.grid);
    FailureOr<scf::ForallOp> normalized =
        normalizeForallOp(rewriter, segment.grid);
    if (failed(normalized))
      return segment.grid.emitOpError("could not be normalized for the "
                                      "mapping onto GPU blocks");
    // (The original loop is gone: the segment holds the new one.)
    scf::ForallOp forall = *normalized;
    segment.grid = forall;
    segment.ops = {forall};
    int64_t rank = forall.getRank();
    if (rank > kMaxLinearBlockDims)
      return forall.emitOpError("of ")
             << rank << " dimensions cannot be a grid of GPU blocks (at most "
             << kMaxLinearBlockDims << ")";
    SmallVector<Attribute> mapping;
    for (int64_t d = 0; d < rank; ++d)
      mapping.push_back(gpu::GPUBlockMappingAttr::get(
          launch.getContext(),
          static_cast<gpu::MappingId>(
              static_cast<uint64_t>(gpu::MappingId::LinearDim0) + rank - 1 -
              d)));
    forall.setMappingAttr(inside.getArrayAttr(mapping));
    forall->moveBefore(terminator);
    if (failed(mapLaunchBlocks(launch, blocks)))
      return failure();
  } else if (scf::ParallelOp loop = segment.threadGrid) {
    // Iteration block * threads + thread, if there is one (upstream's
    // mapping of scf.forall loops onto blocks and threads).
    LogicalResult mapped = mapThreadGrid(
        launch, blocks, threads, iterations,
        [&](OpBuilder &body, Location bodyLoc, Value index) {
          SmallVector<Value> trips;
          for (auto [lb, ub, step] : llvm::zip(
                   loop.getLowerBound(), loop.getUpperBound(), loop.getStep()))
            trips.push_back(
                indexConstant(body, bodyLoc, *constantTripCount(lb, ub, step)));
          SmallVector<Value> ivs =
              delinearize(body, bodyLoc, index, trips, loop.getLowerBound(),
                          loop.getStep());
          IRMapping map;
          map.map(loop.getInductionVars(), ivs);
          for (Operation &op : loop.getBody()->without_terminator())
            body.clone(op, map);
          serializeParallelLoops(*body.getBlock());
        });
    loop.erase();
    if (failed(mapped))
      return failure();
    sinkInto(launch);
    return launch;
  } else {
    for (Operation *op : segment.ops)
      op->moveBefore(terminator);
  }
  sinkInto(launch);
  if (failed(mapToThreads(launch)) || failed(placeScratch(launch, blocks)))
    return failure();
  return launch;
}

void KernelFormer::sinkInto(gpu::LaunchOp launch) {
  Region &region = launch.getBody();
  for (;;) {
    llvm::SetVector<Value> above;
    getUsedValuesDefinedAbove(region, above);
    bool changed = false;
    OpBuilder b = OpBuilder::atBlockBegin(&region.front());
    // In the entry's order, so that a copied op follows its operands.
    SmallVector<Value> values = above.takeVector();
    llvm::stable_sort(values, [](Value x, Value y) {
      Operation *a = x.getDefiningOp(), *c = y.getDefiningOp();
      if (!a || !c)
        return !a && c;
      return a->isBeforeInBlock(c);
    });
    for (Value value : values) {
      Operation *def = value.getDefiningOp();
      if (!def || (!isSinkable(def) && !deviceValueLoads.contains(def)))
        continue;
      Operation *copy = b.clone(*def);
      for (auto [from, to] : llvm::zip(def->getResults(), copy->getResults()))
        replaceAllUsesInRegionWith(from, to, region);
      changed = true;
    }
    if (!changed)
      return;
  }
}

/// Whether `op` writes memory (and so runs on one thread at the uniform
/// level).
bool writesMemory(Operation *op) {
  if (isMemoryEffectFree(op))
    return false;
  std::optional<SmallVector<MemoryEffects::EffectInstance>> effects =
      getEffectsRecursively(op);
  if (!effects)
    return true;
  return llvm::any_of(*effects, [](const auto &effect) {
    return !isa<MemoryEffects::Read>(effect.getEffect());
  });
}

LogicalResult KernelFormer::mapToThreads(gpu::LaunchOp launch) {
  expandCopies(launch.getBody());
  // Inner foralls (a second tiling level) are parallel loops of the block.
  SmallVector<scf::ForallOp> foralls;
  launch.getBody().walk(
      [&](scf::ForallOp forall) { foralls.push_back(forall); });
  for (scf::ForallOp forall : foralls) {
    if (!forall.getOutputs().empty())
      return forall.emitOpError("on tensors cannot run in a GPU kernel");
    OpBuilder b(forall);
    Location loc = forall.getLoc();
    SmallVector<Value> lbs = getValueOrCreateConstantIndexOp(
                           b, loc, forall.getMixedLowerBound()),
                       ubs = getValueOrCreateConstantIndexOp(
                           b, loc, forall.getMixedUpperBound()),
                       steps = getValueOrCreateConstantIndexOp(
                           b, loc, forall.getMixedStep());
    auto loop = scf::ParallelOp::create(b, loc, lbs, ubs, steps);
    Block *body = loop.getBody();
    forall.getBody()->getTerminator()->erase();
    for (auto [from, to] :
         llvm::zip(forall.getInductionVars(), loop.getInductionVars()))
      from.replaceAllUsesWith(to);
    body->getOperations().splice(body->begin(),
                                 forall.getBody()->getOperations());
    forall.erase();
  }
  return mapBlock(launch.getBody().front(), launch.getThreadIds().x,
                  launch.getBlockSize().x);
}

LogicalResult KernelFormer::mapBlock(Block &block, Value tid, Value nthreads) {
  OpBuilder b(block.getParentOp()->getContext());
  auto barrier = [&](Location loc) { gpu::BarrierOp::create(b, loc); };
  SmallVector<Operation *> pending; // writes done by thread 0, in order
  auto flush = [&]() {
    if (pending.empty())
      return;
    Location loc = pending.front()->getLoc();
    b.setInsertionPoint(pending.front());
    barrier(loc);
    Value zero = indexConstant(b, loc, 0);
    Value first =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, tid, zero);
    auto guard = scf::IfOp::create(b, loc, first, /*withElse=*/false);
    for (Operation *op : pending)
      op->moveBefore(guard.thenBlock()->getTerminator());
    b.setInsertionPointAfter(guard);
    barrier(loc);
    pending.clear();
  };
  for (Operation &op : llvm::make_early_inc_range(block)) {
    if (op.hasTrait<OpTrait::IsTerminator>()) {
      flush();
      continue;
    }
    if (auto loop = dyn_cast<scf::ParallelOp>(op)) {
      flush();
      if (!loop.getInitVals().empty())
        return loop.emitOpError("with reductions cannot run in a GPU kernel");
      serializeParallelLoops(*loop.getBody());
      Location loc = loop.getLoc();
      b.setInsertionPoint(loop);
      barrier(loc);
      // total = prod(trip counts); for i = tid; i < total; i += nthreads.
      SmallVector<Value> trips;
      Value total = indexConstant(b, loc, 1);
      for (auto [lb, ub, step] : llvm::zip(
               loop.getLowerBound(), loop.getUpperBound(), loop.getStep())) {
        Value span = arith::SubIOp::create(b, loc, ub, lb);
        Value zero = indexConstant(b, loc, 0);
        span = arith::MaxSIOp::create(b, loc, span, zero);
        Value count = arith::CeilDivUIOp::create(b, loc, span, step);
        trips.push_back(count);
        total = arith::MulIOp::create(b, loc, total, count);
      }
      scf::ForOp::create(
          b, loc, tid, total, nthreads, ValueRange{},
          [&](OpBuilder &fb, Location floc, Value index, ValueRange) {
            SmallVector<Value> ivs = delinearize(
                fb, floc, index, trips, loop.getLowerBound(), loop.getStep());
            IRMapping map;
            map.map(loop.getInductionVars(), ivs);
            for (Operation &inner : loop.getBody()->without_terminator())
              fb.clone(inner, map);
            scf::YieldOp::create(fb, floc);
          });
      barrier(loc);
      loop.erase();
      continue;
    }
    if (isa<memref::AllocOp, memref::AllocaOp>(op))
      continue; // placed in the scratch area afterwards
    if (isa<memref::DeallocOp>(op)) {
      op.erase();
      continue;
    }
    if (!writesMemory(&op)) {
      // Every thread runs it, after the writes before it.
      flush();
      continue;
    }
    bool holdsParallelLoops =
        op.getNumRegions() != 0 && op.walk([](scf::ParallelOp) {
                                       return WalkResult::interrupt();
                                     }).wasInterrupted();
    // Sequential code that writes and yields nothing runs on thread 0 as a
    // whole (no barriers inside).
    if (!holdsParallelLoops && op.getNumResults() == 0 &&
        !containsAllocation(&op)) {
      pending.push_back(&op);
      continue;
    }
    if (isa<scf::ForOp, scf::IfOp, scf::WhileOp, scf::IndexSwitchOp,
            scf::ExecuteRegionOp>(op)) {
      flush();
      for (Region &region : op.getRegions())
        for (Block &inner : region)
          if (failed(mapBlock(inner, tid, nthreads)))
            return failure();
      continue;
    }
    if (op.getNumRegions() != 0 || op.getNumResults() != 0)
      return op.emitOpError("writes memory in a way the GPU kernels cannot "
                            "share out over threads");
    pending.push_back(&op);
  }
  return success();
}

LogicalResult KernelFormer::placeScratch(gpu::LaunchOp launch, int64_t blocks) {
  struct Placed {
    Operation *alloc;
    int64_t bytes;  // one copy, at its largest
    int64_t offset; // in the block's area
    /// The loops around it, outermost first, with their trip counts: one
    /// copy per iteration of them.
    SmallVector<std::pair<scf::ForOp, int64_t>> loops;
  };
  SmallVector<Placed> placed;
  int64_t blockBytes = 0;
  WalkResult walk = launch.getBody().walk([&](Operation *op) {
    if (!isa<memref::AllocOp, memref::AllocaOp>(op))
      return WalkResult::advance();
    auto type = cast<MemRefType>(op->getResult(0).getType());
    if (!type.getLayout().isIdentity()) {
      op->emitOpError("with a layout cannot be placed in GPU scratch memory");
      return WalkResult::interrupt();
    }
    int64_t elements = 1;
    unsigned dynIndex = 0;
    for (int64_t size : type.getShape()) {
      if (!ShapedType::isDynamic(size)) {
        elements *= size;
        continue;
      }
      Value dyn = op->getOperand(dynIndex++);
      FailureOr<int64_t> bound = ValueBoundsConstraintSet::computeConstantBound(
          presburger::BoundType::UB, dyn, /*stopCondition=*/nullptr,
          /*closedUB=*/true);
      if (failed(bound)) {
        op->emitOpError("has a size with no known upper bound; it cannot be "
                        "placed in GPU scratch memory");
        return WalkResult::interrupt();
      }
      elements *= std::max<int64_t>(*bound, 0);
    }
    int64_t copies = 1;
    SmallVector<std::pair<scf::ForOp, int64_t>> loops;
    for (Operation *parent = op->getParentOp(); parent != launch;
         parent = parent->getParentOp()) {
      if (isa<scf::IfOp, scf::IndexSwitchOp, scf::ExecuteRegionOp>(parent))
        continue;
      auto loop = dyn_cast<scf::ForOp>(parent);
      std::optional<int64_t> trips =
          loop ? constantTripCount(loop.getLowerBound(), loop.getUpperBound(),
                                   loop.getStep())
               : std::nullopt;
      if (!trips) {
        op->emitOpError("in a loop of an unknown number of iterations cannot "
                        "be placed in GPU scratch memory");
        return WalkResult::interrupt();
      }
      copies *= std::max<int64_t>(*trips, 1);
      loops.insert(loops.begin(),
                   std::make_pair(loop, std::max<int64_t>(*trips, 1)));
    }
    int64_t bytes = alignTo(
        std::max<int64_t>(elements * elementBytes(type.getElementType()), 1));
    placed.push_back({op, bytes, blockBytes, std::move(loops)});
    blockBytes += bytes * copies;
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  if (placed.empty())
    return success();
  OpBuilder b = OpBuilder::atBlockBegin(&launch.getBody().front());
  Location loc = launch.getLoc();
  // The block's area: the launch's scratch area (placed in the workspace by
  // packWorkspaceBuffers, which rewrites `base`) + block * blockBytes.
  auto base = arith::ConstantOp::create(b, loc, b.getIndexAttr(entryBytes));
  scratchAreas.push_back({launch, base, blockBytes * blocks});
  Value blockBase = arith::AddIOp::create(
      b, loc, base,
      arith::MulIOp::create(b, loc, launch.getBlockIds().x,
                            indexConstant(b, loc, blockBytes)));
  for (Placed &p : placed) {
    b.setInsertionPoint(p.alloc);
    Location aloc = p.alloc->getLoc();
    // Which copy: the iteration of the loops around it, outermost slowest.
    Value copy = indexConstant(b, aloc, 0);
    for (auto [loop, trips] : p.loops) {
      Value iteration = arith::DivUIOp::create(
          b, aloc,
          arith::SubIOp::create(b, aloc, loop.getInductionVar(),
                                loop.getLowerBound()),
          loop.getStep());
      copy = arith::AddIOp::create(
          b, aloc,
          arith::MulIOp::create(b, aloc, copy, indexConstant(b, aloc, trips)),
          iteration);
    }
    Value offset = arith::AddIOp::create(
        b, aloc, blockBase,
        arith::AddIOp::create(
            b, aloc, indexConstant(b, aloc, p.offset),
            arith::MulIOp::create(b, aloc, copy,
                                  indexConstant(b, aloc, p.bytes))));
    auto type = cast<MemRefType>(p.alloc->getResult(0).getType());
    Value view = memref::ViewOp::create(b, aloc, type, workspace, offset,
                                        p.alloc->getOperands());
    p.alloc->getResult(0).replaceAllUsesWith(view);
    p.alloc->erase();
  }
  return success();
}

LogicalResult KernelFormer::run() {
  MLIRContext *context = entry.getContext();
  // Run-time checks (moe.check_*) return early from the entry on the CPU;
  // kernels cannot yet.
  WalkResult checks = entry.walk([](Operation *op) {
    if (op->getDialect() && op->getDialect()->getNamespace() == "moe") {
      op->emitOpError("is not supported in GPU kernels yet (run-time checks "
                      "of index inputs run on the CPU only)");
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (checks.wasInterrupted())
    return failure();
  // The workspace: a new last argument; its size is set at the end.
  auto placeholder = MemRefType::get({1}, IntegerType::get(context, 8));
  unsigned index = entry.getNumArguments();
  if (failed(entry.insertArgument(index, placeholder, {}, entry.getLoc())))
    return failure();
  workspace = entry.getArgument(index);
  if (failed(placeEntryBuffers()))
    return failure();
  splitIntoSegments();
  for (Segment &segment : segments)
    if (failed(passEscapingValues(segment)))
      return failure();
  for (Segment &segment : segments)
    if (failed(launch(segment)))
      return failure();
  // What is left outside the launches computes nothing the device needs.
  for (Operation &op :
       llvm::make_early_inc_range(llvm::reverse(entry.getBody().front())))
    if (isSinkable(&op) || deviceValueLoads.contains(&op))
      if (op.use_empty())
        op.erase();
  int64_t total = packWorkspaceBuffers();
  auto type = MemRefType::get({total}, IntegerType::get(context, 8));
  workspace.setType(type);
  SmallVector<Type> inputs(entry.getBody().getArgumentTypes());
  entry.setFunctionType(
      FunctionType::get(context, inputs, entry.getResultTypes()));
  for (Operation &op : entry.getBody().front().without_terminator())
    if (!isa<gpu::LaunchOp>(op) && !isSinkable(&op)) {
      InFlightDiagnostic diag =
          op.emitOpError("is left outside the GPU kernels");
      for (Operation *user : op.getUsers())
        diag.attachNote(user->getLoc()) << "used by " << user->getName();
      return diag;
    }
  auto module = entry->getParentOfType<ModuleOp>();
  module->setAttr(kWorkspaceBytesAttrName,
                  IntegerAttr::get(IntegerType::get(context, 64), total));
  module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                  UnitAttr::get(context));
  return success();
}

struct MoEGpuFormKernels : impl::MoEGpuFormKernelsBase<MoEGpuFormKernels> {
  using Base::Base;
  void getDependentDialects(DialectRegistry &registry) const override {
    Base::getDependentDialects(registry);
    registerThreadGridMappingDialects(registry);
  }
  void runOnOperation() override {
    ModuleOp module = getOperation();
    func::FuncOp entry = preparedEntry(module);
    if (!entry) {
      module.emitError("moe-gpu-form-kernels needs a prepared entry "
                       "(moe-prepare-entry)");
      return signalPassFailure();
    }
    if (threads <= 0 || singleBlockThreads <= 0) {
      module.emitError("moe-gpu-form-kernels: threads and "
                       "single-block-threads must be positive");
      return signalPassFailure();
    }
    KernelFormer former(entry, threads, singleBlockThreads);
    if (failed(former.run()))
      signalPassFailure();
  }
};

} // namespace
} // namespace mlir::moe
