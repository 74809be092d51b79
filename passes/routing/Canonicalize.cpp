//===- Canonicalize.cpp - The moe-canonicalize pass -----------------------===//

#include "passes/Passes.h"
#include "passes/common/RewriteDriver.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOECANONICALIZE
#include "passes/Passes.h.inc"

namespace {
struct MoECanonicalizePass : impl::MoECanonicalizeBase<MoECanonicalizePass> {
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    auto *dialect = context->getLoadedDialect<MoEDialect>();
    RewritePatternSet patterns(context);
    for (RegisteredOperationName name : context->getRegisteredOperations())
      if (&name.getDialect() == dialect)
        name.getCanonicalizationPatterns(patterns, context);
    // Only the moe patterns: no folding, CSE or region simplification of the
    // surrounding IR.
    if (failed(applyMoEPatterns(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
} // namespace mlir::moe
