//===- WorkspacePacking.h - GPU workspace buffers by lifetime --*- C++ -*-===//
//
// The entry's buffers on the GPU are slices of one workspace. Launches run
// one after another, so two buffers whose launches do not overlap can share
// bytes: a buffer lives from the first launch that touches it to the last.
// packWorkspace gives each buffer an offset such that buffers alive in a
// common launch never overlap (greedy, largest first, each at the lowest
// offset free over its lifetime).
//
// This relies on what the kernels guarantee: a launch reads only bytes of a
// buffer that it or an earlier launch of the same call wrote (a buffer's
// contents before its first write are undefined, as a memref.alloc's are),
// and launches run one after another (one stream, an in-order queue).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_GPU_WORKSPACEPACKING_H
#define MOE_PASSES_GPU_WORKSPACEPACKING_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"

#include <cstdint>

namespace mlir::moe {

/// A buffer of `bytes` (a multiple of the alignment the caller wants for
/// every offset) alive in launches `first` to `last` (inclusive). A buffer
/// that no launch touches (`first > last`) takes no bytes.
struct WorkspaceBuffer {
  int64_t bytes = 0;
  int64_t first = 0, last = -1;
};

/// The offset of each of `buffers` (in their order) and the workspace's
/// size: the end of the last byte used. Offsets are sums of the buffers'
/// sizes, so they keep the sizes' alignment.
struct WorkspaceLayout {
  llvm::SmallVector<int64_t> offsets;
  int64_t bytes = 0;
};

WorkspaceLayout packWorkspace(llvm::ArrayRef<WorkspaceBuffer> buffers);

} // namespace mlir::moe

#endif // MOE_PASSES_GPU_WORKSPACEPACKING_H
