//===- CpuLowerVectors.cpp - Register microkernels from vector contracts --===//
//
// `moe-cpu-lower-vectors`: after bufferization, turns the vector tiles of
// moe-cpu-tile-contractions (whose Mr x Nr accumulators are already
// loop-carried vectors, i.e. registers) into register microkernels:
// - `vector.contract` becomes outer products, then one fused multiply-add
//   per accumulator row and step: `acc[i] = fma(broadcast(A[i, k]), B[k, :],
//   acc[i])`;
// - n-D transfers (unrolled into rows), masks, broadcasts and shape casts
//   are lowered to 1-D vector operations the LLVM conversion maps to vector
//   loads and stores.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOECPULOWERVECTORS
#include "passes/Passes.h.inc"

namespace {

struct MoECpuLowerVectorsPass
    : impl::MoECpuLowerVectorsBase<MoECpuLowerVectorsPass> {
  void runOnOperation() override {
    Operation *root = getOperation();
    MLIRContext *context = &getContext();

    RewritePatternSet contractions(context);
    vector::populateVectorContractLoweringPatterns(
        contractions, vector::VectorContractLowering::OuterProduct);
    vector::populateVectorTransferPermutationMapLoweringPatterns(contractions);
    vector::populateVectorMaskOpLoweringPatterns(contractions);
    vector::populateVectorShapeCastLoweringPatterns(contractions);
    vector::populateVectorTransposeLoweringPatterns(
        contractions, vector::VectorTransposeLowering::EltWise);
    vector::populateVectorBroadcastLoweringPatterns(contractions);
    vector::populateVectorOuterProductLoweringPatterns(contractions);
    vector::populateVectorMultiReductionLoweringPatterns(
        contractions, vector::VectorMultiReductionLowering::InnerParallel);
    if (failed(applyPatternsGreedily(root, std::move(contractions))))
      return signalPassFailure();

    // n-D transfers become rows of 1-D ones (fully unrolled), then loads
    // and stores.
    RewritePatternSet transfers(context);
    populateVectorToSCFConversionPatterns(
        transfers,
        VectorTransferToSCFOptions().enableFullUnroll().setTargetRank(1));
    vector::populateVectorTransferLoweringPatterns(transfers,
                                                   /*maxTransferRank=*/1);
    vector::populateVectorTransferPermutationMapLoweringPatterns(transfers);
    if (failed(applyPatternsGreedily(root, std::move(transfers))))
      return signalPassFailure();
  }
};

} // namespace
} // namespace mlir::moe
