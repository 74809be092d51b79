//===- CpuTarget.h - What the CPU back end knows of its target --*- C++ -*-===//
//
// The register tile of the contraction microkernels, chosen from the vector
// registers of the CPU the code is compiled for.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_CPUTARGET_H
#define MOE_PASSES_CPUTARGET_H

#include <cstdint>

namespace mlir::moe {

/// How a contraction `C[m, n] += A[m, k] * B[k, n]` is tiled on the CPU:
/// `rows x columns` of C stay in vector registers (accumulators) while the
/// loop over k runs through `reductionBlock` values, one outer product per
/// step; `reductionBlock` keeps a `reductionBlock x columns` panel of B in
/// the L1 cache while every row block of A streams past it.
struct ContractionTiles {
  int64_t rows;
  int64_t columns;
  int64_t reductionBlock;
};

/// The tiles for the host CPU: with AVX-512 (32 registers of 16 floats),
/// 8 x 32 (16 accumulators); with AVX2 (16 registers of 8 floats), 6 x 16
/// (12 accumulators); otherwise 4 x 8.
ContractionTiles hostContractionTiles();

} // namespace mlir::moe

#endif // MOE_PASSES_CPUTARGET_H
