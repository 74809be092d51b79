//===- LowerKSparseOT.h - The k-sparse transport solver -------*- C++ -*-===//
//
// `moe.ksparse_ot` lowers to an Adam loop over token potentials whose every
// step projects the expert columns onto the C-sparse simplex. It is the one
// iterative solver of the lowering with its own sorting and projection, so it
// lives in its own file; `moe-lower-to-linalg` adds the pattern.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_LOWERKSPARSEOT_H
#define MOE_PASSES_LOWERKSPARSEOT_H

#include "mlir/IR/PatternMatch.h"

namespace mlir::moe {

/// Adds the pattern lowering `moe.ksparse_ot` to linalg, tensor, scf and
/// `moe.topk` (which the same pattern set lowers further).
void populateLowerKSparseOTPatterns(RewritePatternSet &patterns);

} // namespace mlir::moe

#endif // MOE_PASSES_LOWERKSPARSEOT_H
