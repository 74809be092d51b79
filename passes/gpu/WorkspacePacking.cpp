//===- WorkspacePacking.cpp - Buffers of the GPU workspace by lifetime ----===//

#include "passes/gpu/WorkspacePacking.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>
#include <numeric>

namespace mlir::moe {

WorkspaceLayout packWorkspace(llvm::ArrayRef<WorkspaceBuffer> buffers) {
  WorkspaceLayout layout;
  layout.offsets.assign(buffers.size(), 0);
  auto alive = [](const WorkspaceBuffer &b) { return b.first <= b.last; };
  // Largest first (then earliest, then in order: deterministic).
  llvm::SmallVector<size_t> order(buffers.size());
  std::iota(order.begin(), order.end(), 0);
  llvm::stable_sort(order, [&](size_t x, size_t y) {
    if (buffers[x].bytes != buffers[y].bytes)
      return buffers[x].bytes > buffers[y].bytes;
    return buffers[x].first < buffers[y].first;
  });
  llvm::SmallVector<size_t> placed;
  for (size_t index : order) {
    const WorkspaceBuffer &buffer = buffers[index];
    if (!alive(buffer) || buffer.bytes <= 0)
      continue;
    // The placed buffers alive at the same time, by offset.
    llvm::SmallVector<size_t> conflicts;
    for (size_t other : placed)
      if (buffers[other].first <= buffer.last &&
          buffer.first <= buffers[other].last)
        conflicts.push_back(other);
    llvm::sort(conflicts, [&](size_t x, size_t y) {
      return layout.offsets[x] < layout.offsets[y];
    });
    // The lowest gap that holds it.
    int64_t offset = 0;
    for (size_t other : conflicts) {
      if (offset + buffer.bytes <= layout.offsets[other])
        break;
      offset = std::max(offset, layout.offsets[other] + buffers[other].bytes);
    }
    layout.offsets[index] = offset;
    layout.bytes = std::max(layout.bytes, offset + buffer.bytes);
    placed.push_back(index);
  }
  return layout;
}

} // namespace mlir::moe
