//===- ParallelDimsOuter.cpp - Parallel loops outside reductions (GPU) ----===//
//
// `moe-gpu-parallel-dims-outer`: every `linalg.generic` whose iteration
// space has a reduction dimension before a parallel one is interchanged so
// that its parallel dimensions come first (each group in its own order).
// convert-linalg-to-parallel-loops then makes it one `scf.parallel` over
// the parallel dimensions around sequential loops over the reductions,
// which moe-gpu-form-kernels runs as a grid of one iteration per thread,
// instead of a sequential loop around a parallel one (a barrier per
// iteration in a single block). Each result sums its terms in the same
// order as before, so results are bitwise unchanged.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEGPUPARALLELDIMSOUTER
#include "passes/Passes.h.inc"

namespace {

/// The interchange putting the parallel dimensions of `op` first, or an
/// empty vector when they already are.
SmallVector<unsigned> parallelFirst(linalg::GenericOp op) {
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  SmallVector<unsigned> order;
  for (auto [dim, type] : llvm::enumerate(iterators))
    if (type == utils::IteratorType::parallel)
      order.push_back(dim);
  for (auto [dim, type] : llvm::enumerate(iterators))
    if (type != utils::IteratorType::parallel)
      order.push_back(dim);
  for (auto [position, dim] : llvm::enumerate(order))
    if (position != dim)
      return order;
  return {};
}

struct MoEGpuParallelDimsOuter
    : impl::MoEGpuParallelDimsOuterBase<MoEGpuParallelDimsOuter> {
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> generics;
    getOperation()->walk([&](linalg::GenericOp op) { generics.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : generics) {
      SmallVector<unsigned> order = parallelFirst(op);
      if (order.empty())
        continue;
      rewriter.setInsertionPoint(op);
      if (failed(linalg::interchangeGenericOp(rewriter, op, order))) {
        op.emitOpError("could not be interchanged to put its parallel "
                       "dimensions first");
        return signalPassFailure();
      }
    }
  }
};

} // namespace
} // namespace mlir::moe
