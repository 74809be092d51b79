//===- CpuFeatures.h - The ISA features of the host CPU ---------*- C++ -*-===//
//
// An artifact's machine code is generated for one CPU (`moe-compile
// --target-cpu`) and may use every instruction set extension of it. Its
// signature lists the extensions (the `cpu` field, docs/artifact-abi.md), and
// the runtime refuses to run it on a CPU that lacks one, with a message
// instead of an illegal-instruction signal mid-run:
//
//   built for CPU 'x86-64-v4' with features avx512f, avx512bw that this CPU
//   lacks
//
// The features are read with the x86 `cpuid` instruction (and `xgetbv`: the
// AVX and AVX-512 registers are usable only where the operating system saves
// them), without LLVM, so the runtime stays plain C++17.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_RUNTIME_CPUFEATURES_H
#define MOE_RUNTIME_CPUFEATURES_H

#include "runtime/Status.h"

#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace moe {

/// The features an artifact's signature may list that the runtime checks,
/// with LLVM's names: the extensions beyond x86-64's baseline that generated
/// code may use, and AMX, all of which `cpuid` tells. moe-compile records the
/// ones its target CPU has, in this order; other names in a signature are
/// kept for messages but not checked.
inline constexpr std::string_view kCheckedCpuFeatures[] = {
    "sse3",        "ssse3",      "sse4.1",       "sse4.2",
    "popcnt",      "cx16",       "sahf",         "movbe",
    "avx",         "f16c",       "fma",          "bmi",
    "bmi2",        "lzcnt",      "avx2",         "gfni",
    "avxvnni",     "avx512f",    "avx512cd",     "avx512bw",
    "avx512dq",    "avx512vl",   "avx512ifma",   "avx512vbmi",
    "avx512vbmi2", "avx512vnni", "avx512bitalg", "avx512vpopcntdq",
    "avx512bf16",  "avx512fp16", "amx-tile",     "amx-int8",
    "amx-bf16"};

/// Whether `name` is one of kCheckedCpuFeatures.
bool isCheckedCpuFeature(std::string_view name);

/// A set of feature names (looked up by std::string_view too).
using CpuFeatureSet = std::set<std::string, std::less<>>;

/// The checked features this CPU has and the operating system enables, read
/// with cpuid; empty on other architectures.
CpuFeatureSet detectCpuFeatures();

/// The features the check takes the host to have: detectCpuFeatures(), or,
/// when the environment variable MOE_CPU_FEATURES_OVERRIDE is set, the
/// comma-separated features it lists (a testing aid: a test can show the
/// refusal on any machine; empty means none). Fails for a name the runtime
/// does not check.
Expected<CpuFeatureSet> hostCpuFeatures();

/// The features in `required` that the runtime checks and `host` lacks, in
/// the order of `required`, each once.
std::vector<std::string>
missingCpuFeatures(const std::vector<std::string> &required,
                   const CpuFeatureSet &host);

/// Succeeds when the host (hostCpuFeatures) has every checked feature of
/// `features`, the extensions of the CPU `cpu` that the code was built for;
/// else fails naming every missing one:
///   built for CPU 'x86-64-v4' with features avx512f, avx512bw that this CPU
///   lacks
Status checkHostCpu(std::string_view cpu,
                    const std::vector<std::string> &features);

} // namespace moe

#endif // MOE_RUNTIME_CPUFEATURES_H
