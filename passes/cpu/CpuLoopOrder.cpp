//===- CpuLoopOrder.cpp - Contiguous inner loops for contractions ---------===//
//
// `moe-cpu-loop-order`: moves the output's last dimension innermost in
// contraction generics whose innermost loop is a reduction, so that the loops
// `convert-linalg-to-loops` emits read `B` and write `C` contiguously.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOECPULOOPORDER
#include "passes/Passes.h.inc"

namespace {

/// The dimension of the last result of `map`, if it is a plain dimension.
std::optional<unsigned> lastDim(AffineMap map) {
  if (map.getNumResults() == 0)
    return std::nullopt;
  auto dim = dyn_cast<AffineDimExpr>(map.getResults().back());
  if (!dim)
    return std::nullopt;
  return dim.getPosition();
}

/// The loop order that puts the output's last dimension innermost, or an
/// empty vector when `op` is not a contraction that benefits.
SmallVector<unsigned> contiguousOrder(linalg::GenericOp op) {
  unsigned numLoops = op.getNumLoops();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  if (op.getNumDpsInits() != 1 || numLoops < 2 ||
      iterators.back() != utils::IteratorType::reduction)
    return {};
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  std::optional<unsigned> out = lastDim(maps.back());
  if (!out || iterators[*out] != utils::IteratorType::parallel)
    return {};
  // Some input must read along that dimension and along a reduction (B).
  bool readsMatrix =
      llvm::any_of(ArrayRef<AffineMap>(maps).drop_back(), [&](AffineMap map) {
        if (lastDim(map) != out)
          return false;
        return llvm::any_of(map.getResults(), [&](AffineExpr e) {
          auto dim = dyn_cast<AffineDimExpr>(e);
          return dim &&
                 iterators[dim.getPosition()] == utils::IteratorType::reduction;
        });
      });
  if (!readsMatrix)
    return {};
  SmallVector<unsigned> order;
  for (unsigned d = 0; d < numLoops; ++d)
    if (d != *out)
      order.push_back(d);
  order.push_back(*out);
  return order;
}

struct MoECpuLoopOrderPass : impl::MoECpuLoopOrderBase<MoECpuLoopOrderPass> {
  void runOnOperation() override {
    SmallVector<std::pair<linalg::GenericOp, SmallVector<unsigned>>> work;
    getOperation()->walk([&](linalg::GenericOp op) {
      SmallVector<unsigned> order = contiguousOrder(op);
      if (!order.empty())
        work.emplace_back(op, std::move(order));
    });
    IRRewriter rewriter(&getContext());
    for (auto &[op, order] : work)
      if (failed(linalg::interchangeGenericOp(rewriter, op, order)))
        return signalPassFailure();
  }
};

} // namespace
} // namespace mlir::moe
