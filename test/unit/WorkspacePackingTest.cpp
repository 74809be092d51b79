//===- WorkspacePackingTest.cpp - The GPU workspace's layout by lifetime --===//

#include "passes/gpu/WorkspacePacking.h"

#include <gtest/gtest.h>

#include <random>

using mlir::moe::packWorkspace;
using mlir::moe::WorkspaceBuffer;
using mlir::moe::WorkspaceLayout;

namespace {

/// Whether two buffers alive in a common launch overlap in `layout`.
bool anyOverlap(const std::vector<WorkspaceBuffer> &buffers,
                const WorkspaceLayout &layout) {
  for (size_t i = 0; i < buffers.size(); ++i)
    for (size_t j = i + 1; j < buffers.size(); ++j) {
      const WorkspaceBuffer &a = buffers[i], &b = buffers[j];
      if (a.first > a.last || b.first > b.last)
        continue;
      bool together = a.first <= b.last && b.first <= a.last;
      bool shareBytes = layout.offsets[i] < layout.offsets[j] + b.bytes &&
                        layout.offsets[j] < layout.offsets[i] + a.bytes;
      if (together && shareBytes)
        return true;
    }
  return false;
}

TEST(WorkspacePacking, BuffersOfDisjointLifetimesShareBytes) {
  // Launches 0-1, 2-3 and 4: one after another, all at offset 0.
  std::vector<WorkspaceBuffer> buffers = {{256, 0, 1}, {128, 2, 3}, {64, 4, 4}};
  WorkspaceLayout layout = packWorkspace(buffers);
  EXPECT_EQ(layout.offsets, (llvm::SmallVector<int64_t>{0, 0, 0}));
  EXPECT_EQ(layout.bytes, 256);
}

TEST(WorkspacePacking, BuffersAliveTogetherDoNotOverlap) {
  // All alive in launch 2: side by side, the largest first.
  std::vector<WorkspaceBuffer> buffers = {{64, 0, 2}, {128, 2, 5}, {64, 1, 3}};
  WorkspaceLayout layout = packWorkspace(buffers);
  EXPECT_EQ(layout.offsets, (llvm::SmallVector<int64_t>{128, 0, 192}));
  EXPECT_EQ(layout.bytes, 256);
  EXPECT_FALSE(anyOverlap(buffers, layout));
}

TEST(WorkspacePacking, ABufferFillsAGapItFits) {
  // 0: [0, 64) launches 0-9; 1: [64, 192) launches 0-4; 2: [192, 256)
  // launches 0-9; 3 (launches 5-9) fits where 1 was.
  std::vector<WorkspaceBuffer> buffers = {
      {64, 0, 9}, {128, 0, 4}, {64, 0, 9}, {128, 5, 9}};
  WorkspaceLayout layout = packWorkspace(buffers);
  EXPECT_EQ(layout.offsets[3], layout.offsets[1]);
  EXPECT_EQ(layout.bytes, 256);
  EXPECT_FALSE(anyOverlap(buffers, layout));
}

TEST(WorkspacePacking, DeadBuffersTakeNoBytes) {
  std::vector<WorkspaceBuffer> buffers = {{512, 3, 2}, {64, 0, 0}};
  WorkspaceLayout layout = packWorkspace(buffers);
  EXPECT_EQ(layout.bytes, 64);
  EXPECT_EQ(packWorkspace({}).bytes, 0);
}

TEST(WorkspacePacking, RandomLifetimesNeverOverlapAndNeverExceedTheSum) {
  std::mt19937 random(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<WorkspaceBuffer> buffers(1 + random() % 40);
    int64_t sum = 0, peak = 0;
    for (WorkspaceBuffer &b : buffers) {
      b.bytes = 64 * (1 + random() % 16);
      b.first = random() % 30;
      b.last = b.first + random() % 10;
      sum += b.bytes;
    }
    // No layout is smaller than the most bytes alive in one launch.
    for (int64_t launch = 0; launch < 40; ++launch) {
      int64_t live = 0;
      for (const WorkspaceBuffer &b : buffers)
        if (b.first <= launch && launch <= b.last)
          live += b.bytes;
      peak = std::max(peak, live);
    }
    WorkspaceLayout layout = packWorkspace(buffers);
    ASSERT_FALSE(anyOverlap(buffers, layout)) << "trial " << trial;
    EXPECT_LE(layout.bytes, sum);
    EXPECT_GE(layout.bytes, peak);
    for (size_t i = 0; i < buffers.size(); ++i) {
      EXPECT_EQ(layout.offsets[i] % 64, 0);
      EXPECT_LE(layout.offsets[i] + buffers[i].bytes, layout.bytes);
    }
  }
}

} // namespace
