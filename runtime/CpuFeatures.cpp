//===- CpuFeatures.cpp - The ISA features of the host CPU -----------------===//

#include "runtime/CpuFeatures.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iterator>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define MOE_X86 1
#endif

using namespace moe;

bool moe::isCheckedCpuFeature(std::string_view name) {
  return std::find(std::begin(kCheckedCpuFeatures),
                   std::end(kCheckedCpuFeatures),
                   name) != std::end(kCheckedCpuFeatures);
}

#ifdef MOE_X86
namespace {

enum class Reg { Eax, Ebx, Ecx, Edx };

/// Where cpuid reports a feature, and the register state (XCR0 bits) the
/// operating system must save for its registers to be usable.
struct CpuidBit {
  const char *name;
  unsigned leaf;
  unsigned subleaf;
  Reg reg;
  unsigned bit;
  uint64_t state;
};

// XCR0: SSE and AVX (YMM) state; AVX-512 adds the opmask and ZMM state;
// AMX the tile configuration and data.
constexpr uint64_t kAvxState = 0x6;
constexpr uint64_t kAvx512State = 0xe6;
constexpr uint64_t kAmxState = 0x60000;

// Intel SDM vol. 2A, CPUID; as LLVM's getHostCPUFeatures reads them.
constexpr CpuidBit kCpuidBits[] = {
    {"sse3", 1, 0, Reg::Ecx, 0, 0},
    {"ssse3", 1, 0, Reg::Ecx, 9, 0},
    {"fma", 1, 0, Reg::Ecx, 12, kAvxState},
    {"cx16", 1, 0, Reg::Ecx, 13, 0},
    {"sse4.1", 1, 0, Reg::Ecx, 19, 0},
    {"sse4.2", 1, 0, Reg::Ecx, 20, 0},
    {"movbe", 1, 0, Reg::Ecx, 22, 0},
    {"popcnt", 1, 0, Reg::Ecx, 23, 0},
    {"avx", 1, 0, Reg::Ecx, 28, kAvxState},
    {"f16c", 1, 0, Reg::Ecx, 29, kAvxState},
    {"bmi", 7, 0, Reg::Ebx, 3, 0},
    {"avx2", 7, 0, Reg::Ebx, 5, kAvxState},
    {"bmi2", 7, 0, Reg::Ebx, 8, 0},
    {"avx512f", 7, 0, Reg::Ebx, 16, kAvx512State},
    {"avx512dq", 7, 0, Reg::Ebx, 17, kAvx512State},
    {"avx512ifma", 7, 0, Reg::Ebx, 21, kAvx512State},
    {"avx512cd", 7, 0, Reg::Ebx, 28, kAvx512State},
    {"avx512bw", 7, 0, Reg::Ebx, 30, kAvx512State},
    {"avx512vl", 7, 0, Reg::Ebx, 31, kAvx512State},
    {"avx512vbmi", 7, 0, Reg::Ecx, 1, kAvx512State},
    {"avx512vbmi2", 7, 0, Reg::Ecx, 6, kAvx512State},
    {"gfni", 7, 0, Reg::Ecx, 8, 0},
    {"avx512vnni", 7, 0, Reg::Ecx, 11, kAvx512State},
    {"avx512bitalg", 7, 0, Reg::Ecx, 12, kAvx512State},
    {"avx512vpopcntdq", 7, 0, Reg::Ecx, 14, kAvx512State},
    {"amx-bf16", 7, 0, Reg::Edx, 22, kAmxState},
    {"avx512fp16", 7, 0, Reg::Edx, 23, kAvx512State},
    {"amx-tile", 7, 0, Reg::Edx, 24, kAmxState},
    {"amx-int8", 7, 0, Reg::Edx, 25, kAmxState},
    {"avxvnni", 7, 1, Reg::Eax, 4, kAvxState},
    {"avx512bf16", 7, 1, Reg::Eax, 5, kAvx512State},
    {"sahf", 0x80000001, 0, Reg::Ecx, 0, 0},
    {"lzcnt", 0x80000001, 0, Reg::Ecx, 5, 0},
};

struct CpuidResult {
  unsigned regs[4] = {0, 0, 0, 0};
};

/// cpuid(leaf, subleaf), or zeros when the CPU has no such leaf.
CpuidResult cpuid(unsigned leaf, unsigned subleaf) {
  CpuidResult r;
  unsigned max = __get_cpuid_max(leaf & 0x80000000u, nullptr);
  if (max < leaf)
    return r;
  // Leaf 7 reports its highest subleaf in subleaf 0's EAX.
  if (leaf == 7 && subleaf > 0 && cpuid(7, 0).regs[0] < subleaf)
    return r;
  __cpuid_count(leaf, subleaf, r.regs[0], r.regs[1], r.regs[2], r.regs[3]);
  return r;
}

/// The register state the operating system saves (XCR0), or 0 when it does
/// not manage extended state (OSXSAVE clear).
uint64_t savedRegisterState() {
  constexpr unsigned kOsxsave = 1u << 27;
  if (!(cpuid(1, 0).regs[2] & kOsxsave))
    return 0;
  unsigned eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

} // namespace

CpuFeatureSet moe::detectCpuFeatures() {
  CpuFeatureSet features;
  uint64_t state = savedRegisterState();
  for (const CpuidBit &b : kCpuidBits) {
    unsigned value = cpuid(b.leaf, b.subleaf).regs[static_cast<int>(b.reg)];
    if ((value >> b.bit) & 1 && (state & b.state) == b.state)
      features.insert(b.name);
  }
  return features;
}
#else
CpuFeatureSet moe::detectCpuFeatures() { return {}; }
#endif

Expected<CpuFeatureSet> moe::hostCpuFeatures() {
  constexpr const char *kOverride = "MOE_CPU_FEATURES_OVERRIDE";
  const char *text = std::getenv(kOverride);
  if (!text)
    return detectCpuFeatures();
  CpuFeatureSet features;
  std::string_view list(text);
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view name = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view()
                                           : list.substr(comma + 1);
    if (name.empty())
      continue;
    if (!isCheckedCpuFeature(name)) {
      std::string known;
      for (std::string_view feature : kCheckedCpuFeatures)
        known += (known.empty() ? "" : " ") + std::string(feature);
      return Status::failure(kOverride, ": unknown CPU feature ", quote(name),
                             " (known: ", known, ")");
    }
    features.emplace(name);
  }
  return features;
}

std::vector<std::string>
moe::missingCpuFeatures(const std::vector<std::string> &required,
                        const CpuFeatureSet &host) {
  std::vector<std::string> missing;
  for (const std::string &feature : required)
    if (isCheckedCpuFeature(feature) && !host.count(feature) &&
        std::find(missing.begin(), missing.end(), feature) == missing.end())
      missing.push_back(feature);
  return missing;
}

Status moe::checkHostCpu(std::string_view cpu,
                         const std::vector<std::string> &features) {
  Expected<CpuFeatureSet> host = hostCpuFeatures();
  if (!host)
    return host.status();
  std::vector<std::string> missing = missingCpuFeatures(features, *host);
  if (missing.empty())
    return Status::success();
  std::string list;
  for (const std::string &feature : missing)
    list += (list.empty() ? "" : ", ") + feature;
  return Status::failure("built for CPU ", quote(cpu), " with feature",
                         missing.size() == 1 ? " " : "s ", list,
                         " that this CPU lacks");
}
