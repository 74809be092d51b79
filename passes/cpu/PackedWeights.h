//===- PackedWeights.h - Weights passed in the microkernel's layout -*- C++
//-*-===//
//
// The B operand of a register-tiled contraction is read as `K x Nr` strips
// (moe-cpu-tile-contractions). A weight argument of the entry whose every
// use is such a strip is better passed to the entry already in that layout,
// packed once when the runtime binds it, than copied strip by strip on every
// call:
//
//   logical  W : [B..., K, N]
//   packed   P : [B..., ceil(N / Nr), K, Nr]
//   P[b..., j, k, c] = W[b..., k, j * Nr + c]   (0 where j * Nr + c >= N)
//
// The signature keeps the logical shape and records `"strips": Nr` for the
// argument (artifact ABI version 4, docs/artifact-abi.md); the runtime packs
// the weight it is given (runtime/WeightPacking.h).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_CPU_PACKEDWEIGHTS_H
#define MOE_PASSES_CPU_PACKEDWEIGHTS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::moe {

/// Marks the copy of a B strip (`linalg.copy` of a `K x Nr` slice of B into
/// a fresh tensor) until packWeightStrips decides how it is made.
inline constexpr llvm::StringLiteral kWeightStripAttrName = "moe.b_strip";

/// For every weight argument of `module`'s prepared entry whose uses are all
/// (through `tensor.extract_slice`s) the sources of `strips` (copies of B
/// strips of `columns` columns at column offsets provably multiples of
/// `columns`): gives the argument its packed type, replaces each of its
/// strip copies by the slice of the packed argument they would have made,
/// and records `"strips": columns` for it in the entry's signature. Returns
/// the copies it did not replace (they stay copies). Without a prepared
/// entry nothing is packed.
SmallVector<linalg::CopyOp> packWeightStrips(RewriterBase &rewriter,
                                             ModuleOp module,
                                             ArrayRef<linalg::CopyOp> strips,
                                             int64_t columns);

/// The packed type of a weight of `type` in strips of `columns`.
RankedTensorType packedWeightType(RankedTensorType type, int64_t columns);

} // namespace mlir::moe

#endif // MOE_PASSES_CPU_PACKEDWEIGHTS_H
