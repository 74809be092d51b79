//===- CpuApproximateMath.cpp - Inline polynomial forms of libm calls -----===//
//
// `moe-cpu-approximate-math`: replaces `math.erf` (GELU) by MLIR's
// polynomial approximation, so the activation loops contain no calls and
// LLVM vectorizes them; libm's scalar `erff` is otherwise the single largest
// cost after the GEMMs.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOECPUAPPROXIMATEMATH
#include "passes/Passes.h.inc"

namespace {

struct MoECpuApproximateMathPass
    : impl::MoECpuApproximateMathBase<MoECpuApproximateMathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populatePolynomialApproximateErfPattern(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
} // namespace mlir::moe
