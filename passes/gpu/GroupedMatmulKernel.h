//===- GroupedMatmulKernel.h - The tiled grouped GEMM kernel ---*- C++ -*-===//
//
// The experts' GEMMs as one `gpu.launch` of block tiles: each block computes
// a tile of rows of one expert (never two) by columns, staging the gathered
// A tile and the weight tile in workgroup memory, each thread a register
// micro-tile. Blocks, threads, warps and lanes are `scf.forall` loops mapped
// by upstream's transform ops. See docs/gpu-codegen.md §1.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_GPU_GROUPEDMATMULKERNEL_H
#define MOE_PASSES_GPU_GROUPEDMATMULKERNEL_H

#include "dialect/MoEOps.h"

#include "mlir/IR/Builders.h"

namespace mlir::moe {

/// The tile shape of the kernel. `rows` and `columns` are multiples of
/// the thread grid's sides; `rows * depth` and `depth * columns` multiples
/// of its size (each thread loads the same number of elements).
struct GroupedMatmulTiles {
  /// Result rows and columns of a block's tile.
  int64_t rows = 64, columns = 64;
  /// The `k` step staged in workgroup memory.
  int64_t depth = 16;
  /// The block's threads, `threadRows x threadColumns`; each holds
  /// `(rows / threadRows) x (columns / threadColumns)` results.
  int64_t threadRows = 16, threadColumns = 16;
  /// Products on tensor cores: `nvgpu.mma.sync` m16n8k8 with f32 inputs
  /// read as tf32, accumulated in f32, each warp 32 x 16 results (the
  /// block's warps tile it). Otherwise every product is an f32 multiply.
  bool tensorCores = false;
};

/// The tiles for `op`: 64 x 64 by default. Groups of a uniform size too
/// small to fill 64 rows (the padded layout at small capacities, Soft MoE's
/// slots) take flat tiles instead, so that fewer rows past a group's end are
/// computed: 16 x 256 for groups of at most 16 rows (32 x 128 on tensor
/// cores, for groups of at most 32), each expert's weights still read once
/// per row tile.
GroupedMatmulTiles tilesFor(GroupedMatmulOp op, bool tensorCores);

/// Whether the tiled kernel takes `op` with `tiles`: every shape and the
/// number of experts static and, with tensor cores, an f32 result and tiles
/// of whole warps.
bool canBuildTiledGroupedMatmul(GroupedMatmulOp op,
                                const GroupedMatmulTiles &tiles);

/// Builds the tiled kernel of `op` (which canBuildTiledGroupedMatmul takes)
/// before it, writing a new buffer (a copy of the init where rows lie
/// outside every group), and returns the result tensor. The block tiles, the
/// threads and (with tensor cores) the warps and their lanes are
/// `scf.forall` loops mapped onto the launch by upstream's transform ops
/// (mapLaunchLoops); `op` must not sit in an `scf.forall` (upstream's
/// mapping looks for the one block loop no forall encloses). Fails, with an
/// error, where that mapping does, leaving the partly built kernel for the
/// failing pass to discard.
FailureOr<Value> buildTiledGroupedMatmul(OpBuilder &builder, GroupedMatmulOp op,
                                         const GroupedMatmulTiles &tiles);

} // namespace mlir::moe

#endif // MOE_PASSES_GPU_GROUPEDMATMULKERNEL_H
