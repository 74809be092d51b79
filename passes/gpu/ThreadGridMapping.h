//===- ThreadGridMapping.h - Grids of one iteration per thread --*- C++ -*-===//
//
// A loop of N independent iterations run as a grid of ceil(N / T) blocks of
// T threads, iteration `block * T + thread`. The grid is built as upstream's
// GPU mapping expects it, an `scf.forall` over the blocks (`#gpu.block<x>`)
// around an `scf.forall` over a block's threads (`#gpu.thread<x>`), and
// mapped onto the launch by upstream's transform ops
// (`transform.gpu.map_forall_to_blocks`,
// `transform.gpu.map_nested_forall_to_threads`). The grouped GEMM's kernel
// builds its block, thread, warp and lane loops with buildMappedLoop and maps
// them the same way (mapLaunchLoops).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_GPU_THREADGRIDMAPPING_H
#define MOE_PASSES_GPU_THREADGRIDMAPPING_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace mlir::moe {

/// Builds the code of one iteration: `index` in [0, iterations).
using IterationBuilder =
    function_ref<void(OpBuilder &, Location, Value /*index*/)>;

/// Fills `launch` (a body holding only its terminator, `blocks` x 1 x 1
/// blocks of `threads` x 1 x 1 threads) with `iterations` iterations, one per
/// thread, those past the last skipped. Fails, with an error on `launch`,
/// when the upstream mapping does.
LogicalResult mapThreadGrid(gpu::LaunchOp launch, int64_t blocks,
                            int64_t threads, int64_t iterations,
                            IterationBuilder buildIteration);

/// An `scf.forall` over [0, n) mapped to `mapping` (a `#gpu.block`,
/// `#gpu.warp`, `#gpu.lane` or `#gpu.thread` attribute), built at `b`'s
/// insertion point; returns its induction variable and moves `b` to the
/// end of its body.
Value buildMappedLoop(OpBuilder &b, Location loc, int64_t n, Attribute mapping);

/// Maps the loops of `launch` (`blocks` x 1 x 1 blocks of `threads` x 1 x 1
/// threads) with upstream's transform ops: the one `#gpu.block` loop onto
/// the blocks (`transform.gpu.map_forall_to_blocks`), the thread, warp and
/// lane loops inside it onto the threads
/// (`transform.gpu.map_nested_forall_to_threads`, no barrier added after
/// them). Fails, with an error on `launch`, when the upstream mapping does.
LogicalResult mapLaunchLoops(gpu::LaunchOp launch, int64_t blocks,
                             int64_t threads);

/// Maps the one `#gpu.block` loop of `launch` onto its `blocks` x 1 x 1
/// blocks (`transform.gpu.map_forall_to_blocks`), leaving the code inside
/// as it is. Fails, with an error on `launch`, when the upstream mapping
/// does.
LogicalResult mapLaunchBlocks(gpu::LaunchOp launch, int64_t blocks);

/// The dialects and extensions mapThreadGrid, mapLaunchLoops and
/// mapLaunchBlocks need loaded.
void registerThreadGridMappingDialects(DialectRegistry &registry);

} // namespace mlir::moe

#endif // MOE_PASSES_GPU_THREADGRIDMAPPING_H
