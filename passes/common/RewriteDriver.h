//===- RewriteDriver.h - How the moe passes apply their patterns -*- C++
//-*-===//
//
// The lowering passes rewrite moe ops and nothing else: no folding and no
// region simplification of the surrounding IR, so each pass's FileCheck test
// shows only its own effect.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_REWRITEDRIVER_H
#define MOE_PASSES_REWRITEDRIVER_H

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::moe {

/// Applies `patterns` to `root` to a fixed point without folding, constant
/// CSE or region simplification.
inline LogicalResult applyMoEPatterns(Operation *root,
                                      RewritePatternSet &&patterns) {
  GreedyRewriteConfig config;
  config.enableFolding(false)
      .enableConstantCSE(false)
      .setRegionSimplificationLevel(GreedySimplifyRegionLevel::Disabled);
  return applyPatternsGreedily(root, std::move(patterns), config);
}

} // namespace mlir::moe

#endif // MOE_PASSES_REWRITEDRIVER_H
