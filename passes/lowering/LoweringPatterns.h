//===- LoweringPatterns.h - Lowerings kept in their own files --*- C++ -*-===//
//
// `moe-lower-to-linalg` lowers most level-2 ops in LowerToLinalg.cpp (the
// expert data path decomposes itself: dialect/DataPathDecomposition.cpp).
// Three lowerings are concepts of their own and live in their own files: the
// k-sparse transport solver (LowerKSparseOT.cpp), the slot assignment as
// prefix sums (LowerAssignSlots.cpp) and the sorted layout's row tables
// (LowerSortSlots.cpp). The pass adds their patterns from here.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_LOWERINGPATTERNS_H
#define MOE_PASSES_LOWERINGPATTERNS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::moe {

/// Adds the pattern lowering `moe.ksparse_ot` to linalg, tensor, scf and
/// `moe.topk` (which the same pattern set lowers further).
void populateLowerKSparseOTPatterns(RewritePatternSet &patterns);

/// Adds the pattern lowering `moe.sort_slots`.
void populateLowerSortSlotsPatterns(RewritePatternSet &patterns);

/// Adds the pattern lowering `moe.assign_slots` (prefix sums over experts).
void populateLowerAssignSlotsPatterns(RewritePatternSet &patterns);

/// Whether value `va` (index `ia`) ranks before `vb` (index `ib`): in
/// descending order, ties to the lower index, NaN after every number
/// (docs/routers.md §1). The order of moe.topk and of Batch Prioritized
/// Routing.
Value ranksBefore(OpBuilder &b, Location loc, Value va, Value ia, Value vb,
                  Value ib);

} // namespace mlir::moe

#endif // MOE_PASSES_LOWERINGPATTERNS_H
