//===- CpuTarget.h - What the CPU back end knows of its target --*- C++ -*-===//
//
// The CPU the code is compiled for (`moe-compile --target-cpu`, the
// `target-cpu` options of the moe-to-cpu pipeline and its passes): `host`,
// the CPU the compiler runs on, or any CPU LLVM names for the host's
// architecture (`x86-64-v3`, `znver4`, ...). Its features decide the
// register tile of the contraction microkernels and are recorded in the
// artifact's signature, so the runtime can refuse a CPU that lacks them.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_CPUTARGET_H
#define MOE_PASSES_CPUTARGET_H

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/TargetParser/Triple.h"

#include <cstdint>
#include <optional>
#include <string>

namespace llvm {
class Target;
} // namespace llvm

namespace mlir::moe {

/// The name of the CPU the compiler runs on, the default of every
/// `target-cpu` option.
inline constexpr llvm::StringLiteral kHostCpu = "host";

/// A CPU to generate code for.
struct TargetCpu {
  /// LLVM's name of the CPU (for the host, llvm::sys::getHostCPUName()).
  std::string name;
  /// The TargetMachine's feature string: the host's features, or empty for
  /// a named CPU (LLVM then takes that CPU's own).
  std::string featureString;
  /// Every feature LLVM knows for the target, with whether the CPU has it
  /// ("avx512f" -> true), as llvm::sys::getHostCPUFeatures gives them.
  llvm::StringMap<bool> features;
};

/// The CPU `cpu` names: `host`, or a CPU that LLVM's target for the host's
/// triple knows (the MCSubtargetInfo of that CPU gives its features);
/// nullopt for any other name.
std::optional<TargetCpu> lookupTargetCpu(StringRef cpu);

/// "unknown CPU 'foo' for OPTION (for example: host, x86-64, ...)".
std::string unknownCpuMessage(StringRef cpu, StringRef option);

/// The features of `cpu` that the runtime checks before it runs an artifact
/// (kCheckedCpuFeatures of runtime/CpuFeatures.h), in that list's order:
/// what the signature's `cpu` field records.
SmallVector<std::string> checkedCpuFeatures(const TargetCpu &cpu);

/// LLVM's target for `triple`, the host's (initialized once per process);
/// null, with `error` set, when this LLVM lacks it.
const llvm::Target *lookupNativeTarget(const llvm::Triple &triple,
                                       std::string &error);

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

/// The tiles for a CPU with `features` (TargetCpu::features): with AVX-512
/// (32 registers of 16 floats), 8 x 32 (16 accumulators); with AVX2 and FMA
/// (16 registers of 8 floats), 6 x 16 (12 accumulators); otherwise 4 x 8.
ContractionTiles contractionTiles(const llvm::StringMap<bool> &features);

} // namespace mlir::moe

#endif // MOE_PASSES_CPUTARGET_H
