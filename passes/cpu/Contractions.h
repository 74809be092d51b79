//===- Contractions.h - The GEMMs the CPU stage works on --------*- C++ -*-===//
//
// moe-cpu-distribute splits them into workgroups and moe-cpu-tile-contractions
// tiles them into register microkernels: the same ops.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_CPU_CONTRACTIONS_H
#define MOE_PASSES_CPU_CONTRACTIONS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mlir::moe {

/// A plain row-major `linalg.matmul` or `linalg.batch_matmul` on tensors (no
/// user-defined indexing maps): the experts' GEMMs, the gate, Soft MoE's
/// dispatch and combine.
inline bool isPlainMatmul(Operation *op) {
  if (auto matmul = dyn_cast<linalg::MatmulOp>(op))
    return matmul.hasPureTensorSemantics() && !matmul.hasUserDefinedMaps();
  if (auto batch = dyn_cast<linalg::BatchMatmulOp>(op))
    return batch.hasPureTensorSemantics() && !batch.hasUserDefinedMaps();
  return false;
}

} // namespace mlir::moe

#endif // MOE_PASSES_CPU_CONTRACTIONS_H
