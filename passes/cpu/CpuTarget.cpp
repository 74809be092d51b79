//===- CpuTarget.cpp - What the CPU back end knows of its target ----------===//

#include "passes/cpu/CpuTarget.h"

// The list of features the runtime checks: the compiler records exactly
// those (header only; the runtime library is not linked).
#include "runtime/CpuFeatures.h"

#include "llvm/ADT/Twine.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"

#include <memory>
#include <mutex>

namespace mlir::moe {

const llvm::Target *lookupNativeTarget(const llvm::Triple &triple,
                                       std::string &error) {
  static std::once_flag initialized;
  std::call_once(initialized, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
  return llvm::TargetRegistry::lookupTarget(triple, error);
}

std::optional<TargetCpu> lookupTargetCpu(StringRef cpu) {
  TargetCpu target;
  if (cpu == kHostCpu) {
    target.name = llvm::sys::getHostCPUName().str();
    llvm::SubtargetFeatures features;
    for (const auto &[feature, enabled] : llvm::sys::getHostCPUFeatures()) {
      features.AddFeature(feature, enabled);
      target.features[feature] = enabled;
    }
    target.featureString = features.getString();
    return target;
  }
  llvm::Triple triple(llvm::sys::getProcessTriple());
  std::string error;
  const llvm::Target *llvmTarget = lookupNativeTarget(triple, error);
  if (!llvmTarget)
    return std::nullopt;
  // The generic subtarget only answers whether `cpu` is a name it knows:
  // creating one for an unknown name would print a warning.
  std::unique_ptr<llvm::MCSubtargetInfo> generic(
      llvmTarget->createMCSubtargetInfo(triple, "", ""));
  if (!generic || !generic->isCPUStringValid(cpu))
    return std::nullopt;
  std::unique_ptr<llvm::MCSubtargetInfo> subtarget(
      llvmTarget->createMCSubtargetInfo(triple, cpu, ""));
  if (!subtarget)
    return std::nullopt;
  target.name = cpu.str();
  for (const llvm::SubtargetFeatureKV &feature :
       subtarget->getAllProcessorFeatures())
    target.features[feature.Key] =
        subtarget->getFeatureBits().test(feature.Value);
  return target;
}

std::string unknownCpuMessage(StringRef cpu, StringRef option) {
  return ("unknown CPU '" + llvm::Twine(cpu) + "' for " + option +
          " (for example: host, x86-64, x86-64-v2, x86-64-v3, x86-64-v4, "
          "znver4, skylake-avx512)")
      .str();
}

SmallVector<std::string> checkedCpuFeatures(const TargetCpu &cpu) {
  SmallVector<std::string> features;
  for (std::string_view feature : ::moe::kCheckedCpuFeatures)
    if (cpu.features.lookup(llvm::StringRef(feature.data(), feature.size())))
      features.emplace_back(feature);
  return features;
}

ContractionTiles contractionTiles(const llvm::StringMap<bool> &features) {
  auto has = [&](llvm::StringRef name) { return features.lookup(name); };
  if (has("avx512f"))
    return {8, 32, 128};
  if (has("avx2") && has("fma"))
    return {6, 16, 128};
  return {4, 8, 128};
}

} // namespace mlir::moe
