//===- Allocations.h - Where buffers are allocated --------------*- C++ -*-===//

#ifndef MOE_PASSES_COMMON_ALLOCATIONS_H
#define MOE_PASSES_COMMON_ALLOCATIONS_H

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Operation.h"

namespace mlir::moe {

/// Whether `root` is or holds a memref allocation (`memref.alloc`,
/// `memref.alloca`).
inline bool containsAllocation(Operation *root) {
  return root
      ->walk([](Operation *op) {
        return isa<memref::AllocOp, memref::AllocaOp>(op)
                   ? WalkResult::interrupt()
                   : WalkResult::advance();
      })
      .wasInterrupted();
}

} // namespace mlir::moe

#endif // MOE_PASSES_COMMON_ALLOCATIONS_H
