//===- CpuApproximateMath.cpp - Inline polynomial forms of libm calls -----===//
//
// `moe-cpu-approximate-math`: replaces `math.erf` (GELU) and `math.tanh`
// (its tanh form) by MLIR's polynomial approximations, so the activation
// loops contain no calls and LLVM vectorizes them; libm's scalar `erff` is
// otherwise the single largest cost after the GEMMs.
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
    populatePolynomialApproximateTanhPattern(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
} // namespace mlir::moe
