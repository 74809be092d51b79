//===- CpuTileContractions.cpp - Register-tiled vector contractions ------===//
//
// `moe-cpu-tile-contractions`: tiles every `linalg.matmul` and
// `linalg.batch_matmul` (the expert GEMMs of both plan layouts) for the
// CPU's vector registers and vectorizes the tiles:
//
//   for e                        (batch_matmul: one expert at a time)
//     for k0 step Kc             (the M x Kc block of A, packed)
//       for n0 step Nr           (the Kc x Nr strip of B, packed, stays in L1)
//         for m0 step Mr         (row tiles of A stream past it)
//           for k in k0..k0+Kc   C[m0:Mr, n0:Nr] += A[m0:Mr, k] * B[k, n0:Nr]
//
// The innermost body is one `vector.contract` of an Mr x 1 by 1 x Nr
// operand pair on an Mr x Nr accumulator that the k loop carries as a
// vector (registers); moe-cpu-lower-vectors later lowers the contraction to
// fused multiply-adds.
// Row loops whose bound is not a multiple of Mr (the sorted layout's ragged
// expert groups, any C) are peeled: full tiles are static vectors, the last
// one is masked. Every element of C still sums its terms in increasing k,
// so the tiling does not change results.
//
//===----------------------------------------------------------------------===//

#include "dialect/DataPath.h"
#include "passes/Passes.h"
#include "passes/cpu/Contractions.h"
#include "passes/cpu/CpuTarget.h"
#include "passes/cpu/PackedWeights.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/LoopInvariantCodeMotionUtils.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOECPUTILECONTRACTIONS
#include "passes/Passes.h.inc"

namespace {

/// Marks the register tiles (copies made by peeling keep it) until they are
/// vectorized.
constexpr llvm::StringLiteral kRegisterTile = "moe.register_tile";
/// Marks the row copies of packed operands until they are vectorized.
constexpr llvm::StringLiteral kPackedRow = "moe.packed_row";

/// Tiles `op` with `sizes` (0: not tiled), loops in `interchange` order;
/// returns the tiled op and the generated loops, outermost first.
FailureOr<scf::SCFTilingResult> tile(RewriterBase &rewriter, TilingInterface op,
                                     ArrayRef<int64_t> sizes,
                                     ArrayRef<int64_t> interchange = {}) {
  // A loop no longer than its tile is not tiled (its slices keep static
  // shapes).
  SmallVector<int64_t> clamped = llvm::to_vector(sizes);
  rewriter.setInsertionPoint(op);
  for (auto [size, range] :
       llvm::zip(clamped, op.getIterationDomain(rewriter))) {
    std::optional<int64_t> extent = getConstantIntValue(range.size);
    if (extent && *extent <= size)
      size = 0;
  }
  scf::SCFTilingOptions options;
  options.setTileSizes(getAsIndexOpFoldResult(rewriter.getContext(), clamped));
  if (!interchange.empty())
    options.setInterchange(interchange);
  FailureOr<scf::SCFTilingResult> tiled =
      scf::tileUsingSCF(rewriter, op, options);
  if (succeeded(tiled))
    rewriter.replaceOp(op, tiled->replacements);
  return tiled;
}

/// `op` (with a unit batch dimension, as tiled per expert) as a
/// `linalg.matmul` on the collapsed operands.
linalg::MatmulOp dropUnitBatch(RewriterBase &rewriter,
                               linalg::BatchMatmulOp op) {
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  SmallVector<ReassociationIndices> reassociation = {{0, 1}, {2}};
  auto collapse = [&](Value v) -> Value {
    auto type = cast<RankedTensorType>(v.getType());
    auto reduced = RankedTensorType::get(type.getShape().drop_front(),
                                         type.getElementType());
    return tensor::CollapseShapeOp::create(rewriter, loc, reduced, v,
                                           reassociation);
  };
  auto matmul =
      linalg::MatmulOp::create(rewriter, loc,
                               ValueRange{collapse(op.getDpsInputs()[0]),
                                          collapse(op.getDpsInputs()[1])},
                               ValueRange{collapse(op.getDpsInits()[0])});
  Value expanded =
      tensor::ExpandShapeOp::create(rewriter, loc, op.getResultTypes()[0],
                                    matmul.getResult(0), reassociation);
  rewriter.replaceOp(op, expanded);
  return matmul;
}

/// Vectorizes `op` (a tile), with masks of `maxSizes` where its shape is
/// dynamic.
LogicalResult vectorizeTile(RewriterBase &rewriter, linalg::LinalgOp op,
                            ArrayRef<int64_t> maxSizes) {
  SmallVector<int64_t> vectorSizes;
  rewriter.setInsertionPoint(op);
  if (op.hasDynamicShape())
    vectorSizes = llvm::to_vector(maxSizes);
  // One flag per vector size: the vectorizer takes the list as given and
  // builds its vector types from it, so an empty list beside sizes would
  // read flags past its end (and make fixed vectors scalable).
  SmallVector<bool> scalableDims(vectorSizes.size(), false);
  FailureOr<linalg::VectorizationResult> vectorized = linalg::vectorize(
      rewriter, op, vectorSizes, scalableDims,
      /*vectorizeNDExtract=*/false, /*flatten1DDepthwiseConv=*/false,
      /*assumeDynamicDimsMatchVecSizes=*/false,
      /*createNamedContraction=*/true);
  if (failed(vectorized))
    return failure();
  rewriter.replaceOp(op, vectorized->replacements);
  return success();
}

/// Tiles the packing `copy` by rows, to move one row per vector.
LogicalResult tileCopyByRows(RewriterBase &rewriter, linalg::CopyOp copy) {
  FailureOr<scf::SCFTilingResult> rows =
      tile(rewriter, cast<TilingInterface>(copy.getOperation()), {1, 0});
  if (failed(rows))
    return failure();
  rows->tiledOps.back()->setAttr(kPackedRow, rewriter.getUnitAttr());
  return success();
}

/// Replaces input `index` of `op` by a copy of it in a fresh (contiguous)
/// tensor: a packed operand the register tiles read at unit stride, free of
/// the cache-set conflicts that rows a power of two apart cause. Returns the
/// copy.
linalg::CopyOp packOperand(RewriterBase &rewriter, linalg::LinalgOp op,
                           unsigned index) {
  OpOperand &operand = op->getOpOperand(index);
  Value source = operand.get();
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  SmallVector<OpFoldResult> sizes =
      tensor::getMixedSizes(rewriter, loc, source);
  Value empty = tensor::EmptyOp::create(
      rewriter, loc, sizes,
      cast<RankedTensorType>(source.getType()).getElementType());
  auto copy = linalg::CopyOp::create(rewriter, loc, source, empty);
  rewriter.modifyOpInPlace(op, [&] { operand.set(copy.getResult(0)); });
  return copy;
}

/// Replaces a one-row `moe.gather_rows` of a static width by vector code:
/// the row of its input read as one vector (row 0 for index -1, whose
/// values are then replaced by zeros) and written to the init.
void vectorizeRowGather(RewriterBase &rewriter, GatherRowsOp gather) {
  Location loc = gather.getLoc();
  rewriter.setInsertionPoint(gather);
  auto type = gather.getInit().getType();
  Type elementType = type.getElementType();
  Value c0 = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value index = tensor::ExtractOp::create(rewriter, loc, gather.getIndex(),
                                          ValueRange{c0});
  auto [none, row] = rowToRead(rewriter, loc, index);
  auto vectorType = VectorType::get(type.getShape(), elementType);
  Value zero = arith::ConstantOp::create(
      rewriter, loc, rewriter.getFloatAttr(elementType, 0.0));
  SmallVector<bool> inBounds(2, true);
  Value values = vector::TransferReadOp::create(
      rewriter, loc, vectorType, gather.getInput(), ValueRange{row, c0}, zero,
      inBounds);
  Value zeros = vector::BroadcastOp::create(rewriter, loc, vectorType, zero);
  values = arith::SelectOp::create(rewriter, loc, none, zeros, values);
  Value written =
      vector::TransferWriteOp::create(rewriter, loc, values, gather.getInit(),
                                      ValueRange{c0, c0}, inBounds)
          .getResult();
  rewriter.replaceOp(gather, written);
}

/// Packs input 0 (A) of `op` when its rows are gathered from the tokens: the
/// gather of this block's rows (fused into `loops`, the loops around the
/// block, when A is a slice of the gathered rows) writes the packed buffer
/// itself, a row per vector. Returns false when A is not gathered.
FailureOr<bool> packGatheredRows(RewriterBase &rewriter, linalg::LinalgOp op,
                                 MutableArrayRef<LoopLikeOpInterface> loops) {
  Value a = op.getDpsInputs()[0];
  auto gather = a.getDefiningOp<GatherRowsOp>();
  if (auto slice = a.getDefiningOp<tensor::ExtractSliceOp>()) {
    if (!slice.getSource().getDefiningOp<GatherRowsOp>())
      return false;
    std::optional<scf::SCFFuseProducerOfSliceResult> fused =
        scf::tileAndFuseProducerOfSlice(rewriter, slice, loops);
    if (!fused)
      return failure();
    gather = dyn_cast<GatherRowsOp>(fused->tiledOps.back());
  }
  if (!gather)
    return false;
  FailureOr<scf::SCFTilingResult> rows =
      tile(rewriter, cast<TilingInterface>(gather.getOperation()), {1, 0});
  if (failed(rows))
    return failure();
  // Vectorized with the other packed rows, once shapes are static.
  rows->tiledOps.back()->setAttr(kPackedRow, rewriter.getUnitAttr());
  return true;
}

/// The size of each of the fewest tiles of at most `maxRows` that cover
/// `rows` (when static), as equal as they can be: 49 rows are 7 register
/// tiles of 7 rather than 6 of 8 and a masked one that computes 8 rows for
/// 1, and a reduction of 192 is 2 static blocks of 96 rather than 128 and a
/// block of dynamic depth 64 (whose copies would not vectorize).
int64_t balancedRows(std::optional<int64_t> rows, int64_t maxRows) {
  if (!rows || *rows <= 0)
    return maxRows;
  int64_t tiles = llvm::divideCeil(*rows, maxRows);
  return llvm::divideCeil(*rows, tiles);
}

/// The static number of rows of the matmul `op`, or nullopt.
std::optional<int64_t> staticRows(linalg::MatmulOp op) {
  int64_t rows =
      cast<RankedTensorType>(op.getDpsInits()[0].getType()).getDimSize(0);
  if (ShapedType::isDynamic(rows))
    return std::nullopt;
  return rows;
}

struct MoECpuTileContractionsPass
    : impl::MoECpuTileContractionsBase<MoECpuTileContractionsPass> {
  using MoECpuTileContractionsBase::MoECpuTileContractionsBase;

  /// The tiles of `target-cpu`, with the sizes the options set; an unknown
  /// CPU fails the pass.
  ContractionTiles tiles() {
    std::optional<TargetCpu> cpu = lookupTargetCpu(targetCpu);
    if (!cpu) {
      getOperation()->emitError() << unknownCpuMessage(targetCpu, "target-cpu");
      signalPassFailure();
    }
    ContractionTiles chosen =
        contractionTiles(cpu ? cpu->features : llvm::StringMap<bool>());
    if (rows > 0)
      chosen.rows = rows;
    if (columns > 0)
      chosen.columns = columns;
    if (reductionBlock > 0)
      chosen.reductionBlock = reductionBlock;
    return chosen;
  }

  void runOnOperation() override {
    Operation *root = getOperation();
    MLIRContext *context = &getContext();
    ContractionTiles t = tiles();
    IRRewriter rewriter(context);

    SmallVector<Operation *> contractions;
    root->walk([&](Operation *op) {
      if (isPlainMatmul(op))
        contractions.push_back(op);
    });

    // Cache level: one expert, one Kc panel at a time; the expert's A block
    // is packed into a contiguous M x Kc buffer.
    SmallVector<linalg::MatmulOp> blocks;
    for (Operation *op : contractions) {
      bool batched = isa<linalg::BatchMatmulOp>(op);
      int64_t depth = cast<linalg::LinalgOp>(op).getStaticLoopRanges().back();
      SmallVector<int64_t> sizes = {
          0, 0,
          ShapedType::isDynamic(depth) ? t.reductionBlock
                                       : balancedRows(depth, t.reductionBlock)};
      if (batched)
        sizes.insert(sizes.begin(), 1);
      FailureOr<scf::SCFTilingResult> tiled =
          tile(rewriter, cast<TilingInterface>(op), sizes);
      if (failed(tiled))
        return signalPassFailure();
      Operation *block = tiled->tiledOps.back();
      linalg::MatmulOp matmul =
          batched ? dropUnitBatch(rewriter, cast<linalg::BatchMatmulOp>(block))
                  : cast<linalg::MatmulOp>(block);
      FailureOr<bool> gathered =
          packGatheredRows(rewriter, matmul, tiled->loops);
      if (failed(gathered) ||
          (!*gathered &&
           failed(tileCopyByRows(rewriter, packOperand(rewriter, matmul, 0)))))
        return signalPassFailure();
      blocks.push_back(matmul);
    }

    // Register level: n, with the Kc x Nr strip of B packed contiguously,
    // then m, then k one step at a time. The row loops are peeled into full
    // tiles and a remainder.
    SmallVector<scf::ForOp> rowLoops;
    for (linalg::MatmulOp block : blocks) {
      // A strip read by a single row tile (Soft MoE's few slots per
      // expert) is not worth a copy. (Read before tiling replaces block.)
      std::optional<int64_t> rows = staticRows(block);
      FailureOr<scf::SCFTilingResult> strips =
          tile(rewriter, cast<TilingInterface>(block.getOperation()),
               {0, t.columns, 0});
      if (failed(strips))
        return signalPassFailure();
      auto strip = cast<linalg::MatmulOp>(strips->tiledOps.back());
      // Marked until the weights are packed (below): a strip of a weight
      // argument may be read from the packed weight instead.
      if (!rows || *rows > t.rows)
        packOperand(rewriter, strip, 1)
            ->setAttr(kWeightStripAttrName, rewriter.getUnitAttr());
      FailureOr<scf::SCFTilingResult> tiled =
          tile(rewriter, cast<TilingInterface>(strip.getOperation()),
               {balancedRows(rows, t.rows), 0, 1});
      if (failed(tiled))
        return signalPassFailure();
      tiled->tiledOps.back()->setAttr(kRegisterTile, rewriter.getUnitAttr());
      // Loops outermost first: m, k.
      if (auto rowLoop =
              dyn_cast<scf::ForOp>(tiled->loops.front().getOperation()))
        rowLoops.push_back(rowLoop);
    }
    for (scf::ForOp loop : rowLoops) {
      scf::ForOp remainder;
      (void)scf::peelForLoopAndSimplifyBounds(rewriter, loop, remainder);
    }

    // Full tiles get static shapes.
    {
      RewritePatternSet patterns(context);
      tensor::ExtractSliceOp::getCanonicalizationPatterns(patterns, context);
      tensor::InsertSliceOp::getCanonicalizationPatterns(patterns, context);
      tensor::CastOp::getCanonicalizationPatterns(patterns, context);
      linalg::MatmulOp::getCanonicalizationPatterns(patterns, context);
      affine::AffineMinOp::getCanonicalizationPatterns(patterns, context);
      affine::AffineApplyOp::getCanonicalizationPatterns(patterns, context);
      scf::ForOp::getCanonicalizationPatterns(patterns, context);
      context->getLoadedDialect<linalg::LinalgDialect>()
          ->getCanonicalizationPatterns(patterns);
      context->getLoadedDialect<tensor::TensorDialect>()
          ->getCanonicalizationPatterns(patterns);
      if (failed(applyPatternsGreedily(root, std::move(patterns))))
        return signalPassFailure();
    }

    // Strips of B: slices of the weights packed by the runtime where every
    // use of a weight argument is such a strip, copies a row at a time
    // otherwise.
    {
      SmallVector<linalg::CopyOp> strips;
      root->walk([&](linalg::CopyOp copy) {
        if (copy->removeAttr(kWeightStripAttrName))
          strips.push_back(copy);
      });
      SmallVector<linalg::CopyOp> copied =
          packWeights ? packWeightStrips(rewriter, dyn_cast<ModuleOp>(root),
                                         strips, t.columns)
                      : strips;
      for (linalg::CopyOp copy : copied)
        if (failed(tileCopyByRows(rewriter, copy)))
          return signalPassFailure();
    }

    // Vectorize every register tile: exact vectors for full tiles, masked
    // Mr x Nr x 1 vectors for the remainders.
    SmallVector<linalg::LinalgOp> registerTiles, packedRows;
    root->walk([&](linalg::LinalgOp op) {
      if (op->hasAttr(kRegisterTile))
        registerTiles.push_back(op);
      else if (op->hasAttr(kPackedRow))
        packedRows.push_back(op);
    });
    // Rows of a static width become one vector each; the rare partial row
    // (a short last reduction block or column strip) stays a loop, which
    // LLVM vectorizes.
    SmallVector<GatherRowsOp> rowGathers;
    root->walk([&](GatherRowsOp op) {
      if (op->hasAttr(kPackedRow))
        rowGathers.push_back(op);
    });
    for (GatherRowsOp op : rowGathers) {
      op->removeAttr(kPackedRow);
      if (op.getInit().getType().hasStaticShape())
        vectorizeRowGather(rewriter, op);
    }
    for (linalg::LinalgOp op : packedRows) {
      op->removeAttr(kPackedRow);
      if (op.hasDynamicShape())
        continue;
      if (failed(vectorizeTile(rewriter, op, {}))) {
        op->emitError("the packing copy of this contraction does not "
                      "vectorize");
        return signalPassFailure();
      }
    }
    for (linalg::LinalgOp op : registerTiles) {
      if (failed(vectorizeTile(rewriter, op, {t.rows, t.columns, 1}))) {
        op->emitError("the register tile of this contraction does not "
                      "vectorize");
        return signalPassFailure();
      }
    }

    // Remainder tiles: the masked-off rows of A read as zeros and the
    // masked-off rows of C are never written, so the contraction itself
    // needs no mask; the transfers take theirs as operands (no
    // `vector.mask` regions are left for bufferization).
    SmallVector<vector::MaskOp> maskedContractions;
    root->walk([&](vector::MaskOp mask) {
      if (isa_and_nonnull<vector::ContractionOp>(mask.getMaskableOp()))
        maskedContractions.push_back(mask);
    });
    for (vector::MaskOp mask : maskedContractions) {
      Operation *contraction = mask.getMaskableOp();
      rewriter.setInsertionPoint(mask);
      Operation *unmasked = rewriter.clone(*contraction);
      rewriter.replaceOp(mask, unmasked->getResults());
    }
    {
      RewritePatternSet patterns(context);
      vector::populateVectorMaskLoweringPatternsForSideEffectingOps(patterns);
      if (failed(applyPatternsGreedily(root, std::move(patterns))))
        return signalPassFailure();
    }

    // The accumulator into registers: the tile of C (extract_slice, then
    // transfer_read; transfer_write, then insert_slice) is read before the
    // reduction loop and written after it, the loop carries the vector
    // (masked remainder tiles too, their transfers carrying the mask).
    SmallVector<scf::ForOp> reductionLoops;
    root->walk([&](scf::ForOp loop) {
      if (!loop.getBody()->getOps<vector::ContractionOp>().empty())
        reductionLoops.push_back(loop);
    });
    // One subset pair per call: the slice of C, then the transfers.
    for (scf::ForOp loop : reductionLoops) {
      moveLoopInvariantCode(loop); // the constants the vectorizer made
      LoopLikeOpInterface hoisted = loop;
      for (int level = 0; level < 2; ++level)
        hoisted = hoistLoopInvariantSubsets(rewriter, hoisted);
    }
  }
};

} // namespace
} // namespace mlir::moe
