//===- UnrollRounds.cpp - Short sequential loops of parallel work (GPU) ---===//
//
// `moe-gpu-unroll-rounds`: a sequential loop at the entry's top level runs in
// one GPU block (moe-gpu-form-kernels), its parallel work shared out over
// that block's threads. When the loop is short (top-k's k rounds of an
// arg-max over experts) and its body holds parallel linalg ops, unrolling it
// makes each round's ops top-level ops, each a grid over the whole GPU. The
// rounds run in the same order on the same values, so results do not change.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEGPUUNROLLROUNDS
#include "passes/Passes.h.inc"

namespace {

/// Whether `loop` holds a linalg op (parallel work a grid could share out).
bool holdsLinalgOps(scf::ForOp loop) {
  return loop.getBody()
      ->walk([](linalg::LinalgOp) { return WalkResult::interrupt(); })
      .wasInterrupted();
}

struct MoEGpuUnrollRounds : impl::MoEGpuUnrollRoundsBase<MoEGpuUnrollRounds> {
  using MoEGpuUnrollRoundsBase::MoEGpuUnrollRoundsBase;
  void runOnOperation() override {
    SmallVector<scf::ForOp> loops;
    for (Operation &op : getOperation().getBody().getOps())
      if (auto loop = dyn_cast<scf::ForOp>(op)) {
        std::optional<APInt> trips = loop.getStaticTripCount();
        if (trips && trips->getSExtValue() <= maxTripCount &&
            holdsLinalgOps(loop))
          loops.push_back(loop);
      }
    for (scf::ForOp loop : loops)
      if (failed(loopUnrollFull(loop))) {
        loop.emitOpError("could not be unrolled");
        return signalPassFailure();
      }
  }
};

} // namespace
} // namespace mlir::moe
