//===- CpuDistribute.cpp - Split the work into grids of workgroups --------===//
//
// `moe-cpu-distribute`: tiles the parallel dimensions of the layer's linalg
// ops with `scf.forall`, whose iterations become the workgroups of a grid
// (moe-cpu-outline-workgroups), run on the runtime's threads:
//
// - an expert GEMM (`linalg.matmul`, `linalg.batch_matmul`) is split by
//   expert and by blocks of `columns` output columns; the op that
//   initialises its accumulator (the bias) and an element-wise consumer (the
//   activation) are fused into the same workgroups, so they run on the block
//   while it is in cache instead of as passes over memory;
// - every other large linalg op outside loops (gather, combine, gate,
//   scores) is split along its outer parallel dimensions.
//
// Reduction dimensions are never split: every output element is computed
// by one workgroup, in the same order as before, so the results are the same
// for every thread count.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/cpu/Contractions.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Utils/Utils.h"
#include "mlir/Dialect/MemRef/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/LoopLikeInterface.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOECPUDISTRIBUTE
#include "passes/Passes.h.inc"

namespace {

/// Whether `value`, used by `consumer`, is read element for element.
bool readsElementwise(linalg::GenericOp consumer, Value value) {
  return llvm::all_of(value.getUses(), [&](OpOperand &use) {
    return use.getOwner() == consumer.getOperation() &&
           consumer.isDpsInput(&use) &&
           consumer.getMatchingIndexingMap(&use).isIdentity();
  });
}

/// The element-wise op (the activation or the row scale) that is the only
/// reader of `contraction`'s result, directly or through column slices of it
/// (swiglu's two halves), or null.
linalg::GenericOp elementwiseConsumer(Operation *contraction) {
  Value result = contraction->getResult(0);
  if (result.use_empty())
    return nullptr;
  // The values the consumer reads: the result, or slices of it.
  SmallVector<Value> read;
  for (Operation *user : result.getUsers()) {
    auto slice = dyn_cast<tensor::ExtractSliceOp>(user);
    if (slice && slice.getSource() == result && slice.hasUnitStride())
      read.push_back(slice.getResult());
  }
  if (read.empty())
    read.push_back(result);
  else if (read.size() !=
           static_cast<size_t>(llvm::range_size(result.getUsers())))
    return nullptr;
  auto consumer = dyn_cast<linalg::GenericOp>(*read.front().getUsers().begin());
  if (!consumer || !consumer.hasPureTensorSemantics() ||
      !linalg::isElementwise(consumer) || consumer->getNumResults() != 1)
    return nullptr;
  for (Value value : read)
    if (!readsElementwise(consumer, value))
      return nullptr;
  return consumer;
}

/// Whether `producer` (which `slice` reads) fills the accumulator of a
/// contraction: it has no reductions and the slice is a contraction's init.
bool isAccumulatorInit(tensor::ExtractSliceOp slice, Operation *producer) {
  auto linalgOp = dyn_cast<linalg::LinalgOp>(producer);
  if (!linalgOp || linalgOp.getNumReductionLoops() != 0)
    return false;
  return llvm::any_of(slice->getUses(), [](OpOperand &use) {
    auto user = dyn_cast<linalg::LinalgOp>(use.getOwner());
    return user && isPlainMatmul(user) && user.isDpsInit(&use);
  });
}

/// Whether `op` only moves data: `moe.gather_rows`, or a linalg.generic
/// without reductions that reads another tensor by computed index.
bool isGather(Operation *op) {
  if (isa<GatherRowsOp>(op))
    return true;
  auto generic = dyn_cast<linalg::GenericOp>(op);
  if (!generic || generic.getNumReductionLoops() != 0)
    return false;
  return !generic.getBody()->getOps<tensor::ExtractOp>().empty();
}

/// Whether `op` is nested in a loop: such ops run many times on small data
/// (routing iterations), and stay sequential.
bool isInLoop(Operation *op) {
  return op->getParentOfType<LoopLikeOpInterface>() != nullptr;
}

/// Tile sizes that split the outer parallel loops of `ranges` into about
/// `workgroups` pieces (0: not split).
SmallVector<int64_t> splitOuterLoops(ArrayRef<int64_t> ranges,
                                     ArrayRef<utils::IteratorType> iterators,
                                     int64_t workgroups) {
  SmallVector<int64_t> sizes(ranges.size(), 0);
  for (auto [i, range] : llvm::enumerate(ranges)) {
    if (workgroups <= 1 || iterators[i] != utils::IteratorType::parallel)
      break;
    int64_t pieces = std::min(range, workgroups);
    sizes[i] = llvm::divideCeil(range, pieces);
    workgroups = llvm::divideCeil(workgroups, pieces);
  }
  return sizes;
}

struct MoECpuDistributePass : impl::MoECpuDistributeBase<MoECpuDistributePass> {
  using MoECpuDistributeBase::MoECpuDistributeBase;

  /// The rows of a workgroup of a GEMM outside any loop (the gate, whose
  /// few columns make one block): enough blocks of at least 64 rows for
  /// `max-workgroups` workgroups in all. 0 (all rows) for the experts'
  /// GEMMs, whose experts and column blocks are enough.
  int64_t rowBlock(Operation *contraction, RankedTensorType resultType,
                   bool batched) {
    if (batched || isInLoop(contraction))
      return 0;
    int64_t m = resultType.getDimSize(0), n = resultType.getDimSize(1);
    if (ShapedType::isDynamic(m) || ShapedType::isDynamic(n))
      return 0;
    int64_t columnBlocks = n > columns ? llvm::divideCeil(n, columns) : 1;
    int64_t rowBlocks = std::max<int64_t>(1, maxWorkgroups / columnBlocks);
    int64_t rows = std::max<int64_t>(64, llvm::divideCeil(m, rowBlocks));
    return rows < m ? rows : 0;
  }

  /// Splits `contraction` by expert and column blocks, with its accumulator's
  /// initialisation and its element-wise consumer in the same workgroups.
  LogicalResult distributeContraction(RewriterBase &rewriter,
                                      linalg::LinalgOp contraction) {
    Operation *root = contraction;
    if (linalg::GenericOp consumer = elementwiseConsumer(contraction))
      root = consumer;
    // Loops of the root: [b,] m, n for the consumer, [b,] m, n, k for the
    // contraction itself. Experts one at a time, all rows, column blocks.
    bool batched = isa<linalg::BatchMatmulOp>(contraction);
    auto resultType = cast<RankedTensorType>(root->getResult(0).getType());
    int64_t n = resultType.getShape().back();
    SmallVector<int64_t> sizes;
    if (batched)
      sizes.push_back(1);
    sizes.push_back(rowBlock(contraction, resultType, batched));
    sizes.push_back(!ShapedType::isDynamic(n) && n > columns ? columns : 0);
    if (root == contraction.getOperation())
      sizes.push_back(0);
    if (llvm::all_of(sizes, [](int64_t s) { return s == 0; }))
      return success(); // a single workgroup: nothing to distribute

    scf::SCFTilingOptions tiling;
    tiling.setTileSizes(getAsIndexOpFoldResult(rewriter.getContext(), sizes));
    tiling.setLoopType(scf::SCFTilingOptions::LoopType::ForallOp);
    scf::SCFTileAndFuseOptions options;
    options.setTilingOptions(tiling);
    // When the consumer reads column slices of the contraction (swiglu's
    // halves), a slice of such a slice becomes one slice, which fusion can
    // follow to the contraction. (Not otherwise: the cleanup also folds
    // whole-tensor slices, which fusion needs to reach a gather.)
    if (root != contraction.getOperation() &&
        !llvm::is_contained(root->getOperands(), contraction->getResult(0))) {
      RewritePatternSet cleanup(rewriter.getContext());
      tensor::populateMergeConsecutiveInsertExtractSlicePatterns(cleanup);
      options.cleanupPatterns = FrozenRewritePatternSet(std::move(cleanup));
    }
    // Fuse the contraction into its consumer, whatever fills the
    // accumulator (zeros, the bias) and the rows of A when they are gathered
    // (moving rows costs little next to the block's GEMM, and keeps the
    // expert loop around the column blocks free of writes, so the two
    // become one grid). Never a contraction feeding the operands, which each
    // workgroup would recompute.
    options.setFusionControlFn(
        [&](tensor::ExtractSliceOp slice, OpResult producer, bool)
            -> std::optional<scf::SCFTileAndFuseOptions::ControlFnResult> {
          Operation *op = producer.getOwner();
          if (op == contraction.getOperation() ||
              isAccumulatorInit(slice, op) || isGather(op))
            return scf::SCFTileAndFuseOptions::ControlFnResult{};
          return std::nullopt;
        });
    rewriter.setInsertionPoint(root);
    FailureOr<scf::SCFTileAndFuseResult> tiled =
        scf::tileConsumerAndFuseProducersUsingSCF(
            rewriter, cast<TilingInterface>(root), options);
    if (failed(tiled))
      return root->emitError("cannot split this expert computation into "
                             "workgroups");
    for (OpResult result : root->getResults())
      if (Value replacement = tiled->replacements.lookup(result))
        rewriter.replaceAllUsesWith(result, replacement);
    return success();
  }

  /// Splits `op`'s outer parallel loops when it has enough work.
  LogicalResult distributeOther(RewriterBase &rewriter, linalg::LinalgOp op) {
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    if (llvm::any_of(ranges, ShapedType::isDynamic))
      return success();
    uint64_t work = 1;
    for (int64_t range : ranges)
      work = llvm::SaturatingMultiply(work, static_cast<uint64_t>(range));
    int64_t workgroups = static_cast<int64_t>(std::min<uint64_t>(
        maxWorkgroups, work / std::max<int64_t>(minWork, 1)));
    SmallVector<int64_t> sizes =
        splitOuterLoops(ranges, op.getIteratorTypesArray(), workgroups);
    if (llvm::all_of(sizes, [](int64_t s) { return s == 0; }))
      return success();
    scf::SCFTilingOptions tiling;
    tiling.setTileSizes(getAsIndexOpFoldResult(rewriter.getContext(), sizes));
    tiling.setLoopType(scf::SCFTilingOptions::LoopType::ForallOp);
    rewriter.setInsertionPoint(op);
    FailureOr<scf::SCFTilingResult> tiled = scf::tileUsingSCF(
        rewriter, cast<TilingInterface>(op.getOperation()), tiling);
    if (failed(tiled))
      return op->emitError("cannot split this op into workgroups");
    rewriter.replaceOp(op, tiled->replacements);
    return success();
  }

  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    SmallVector<linalg::LinalgOp> contractions;
    getOperation()->walk([&](linalg::LinalgOp op) {
      if (isPlainMatmul(op))
        contractions.push_back(op);
    });
    for (linalg::LinalgOp op : contractions)
      if (failed(distributeContraction(rewriter, op)))
        return signalPassFailure();
    // The untiled ops are dead now (no fused producer's result is yielded),
    // once the sizes of dynamic tiles no longer read them (tensor.dim of a
    // destination-style op is the dim of its init): erase them before the
    // second walk finds them.
    {
      RewritePatternSet patterns(&getContext());
      memref::populateResolveRankedShapedTypeResultDimsPatterns(patterns);
      tensor::DimOp::getCanonicalizationPatterns(patterns, &getContext());
      if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
        return signalPassFailure();
    }

    // The rest, outside loops and workgroups (the contractions' fused
    // producers and consumers are inside their workgroups now).
    SmallVector<linalg::LinalgOp> others;
    getOperation()->walk([&](linalg::LinalgOp op) {
      if (op.hasPureTensorSemantics() && !isInLoop(op) &&
          !op->getParentOfType<scf::ForallOp>() && !isPlainMatmul(op))
        others.push_back(op);
    });
    for (linalg::LinalgOp op : others)
      if (failed(distributeOther(rewriter, op)))
        return signalPassFailure();
  }
};

} // namespace
} // namespace mlir::moe
