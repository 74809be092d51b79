//===- ParallelScatters.cpp - Scatter loops as parallel loops (GPU) -------===//
//
// `moe-gpu-parallel-scatters`: the lowering builds a few scatters as
// sequential loops of inserts (the inverse of the priority order, the rows
// of the sorted layout, the row weights, the inverse of a slot table) and
// marks those whose iterations write distinct elements with
// `moe.disjoint_iterations` (passes/common/TensorBuilders.h). After
// bufferization each is an `scf.for` storing into its buffer in place; this
// pass makes it an `scf.parallel`, which moe-gpu-form-kernels runs as a grid
// of one iteration per thread (or shares out over a block's threads)
// instead of on one thread. The same elements receive the same values, so
// the results do not change.
//
// A marked loop that still carries values, or whose body allocates (a copy
// bufferization made), stays sequential.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/common/Allocations.h"
#include "passes/common/TensorBuilders.h"

#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEGPUPARALLELSCATTERS
#include "passes/Passes.h.inc"

namespace {

/// Whether the iterations of `loop` may run at once: it is marked, carries
/// nothing and allocates nothing (an allocation is a copy bufferization
/// made out of place: each iteration would read the previous one's).
bool isParallelScatter(scf::ForOp loop) {
  return loop->hasAttr(kDisjointIterationsAttr) && loop.getNumResults() == 0 &&
         !containsAllocation(loop);
}

/// `loop` rewritten as an `scf.parallel` of the same bounds and body.
void makeParallel(scf::ForOp loop) {
  OpBuilder b(loop);
  auto parallel = scf::ParallelOp::create(
      b, loop.getLoc(), ValueRange{loop.getLowerBound()},
      ValueRange{loop.getUpperBound()}, ValueRange{loop.getStep()});
  Block *body = parallel.getBody();
  loop.getInductionVar().replaceAllUsesWith(parallel.getInductionVars()[0]);
  // Everything but scf.for's terminator, before scf.parallel's.
  loop.getBody()->getTerminator()->erase();
  body->getOperations().splice(body->getTerminator()->getIterator(),
                               loop.getBody()->getOperations());
  loop.erase();
}

struct MoEGpuParallelScatters
    : impl::MoEGpuParallelScattersBase<MoEGpuParallelScatters> {
  void runOnOperation() override {
    // Innermost first, so that an outer loop's body is final when it moves.
    SmallVector<scf::ForOp> loops;
    getOperation()->walk([&](scf::ForOp loop) {
      if (isParallelScatter(loop))
        loops.push_back(loop);
    });
    for (scf::ForOp loop : loops)
      makeParallel(loop);
  }
};

} // namespace
} // namespace mlir::moe
