//===- CpuTarget.cpp - What the CPU back end knows of its target ----------===//

#include "passes/cpu/CpuTarget.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/TargetParser/Host.h"

namespace mlir::moe {

ContractionTiles hostContractionTiles() {
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  auto has = [&](llvm::StringRef name) { return features.lookup(name); };
  if (has("avx512f"))
    return {8, 32, 128};
  if (has("avx2") && has("fma"))
    return {6, 16, 128};
  return {4, 8, 128};
}

} // namespace mlir::moe
