//===- CpuFeaturesTest.cpp - The host's CPU features and their check ------===//

#include "runtime/CpuFeatures.h"

#include "ScopedEnvironment.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>

using namespace moe;

namespace {

/// Sets MOE_CPU_FEATURES_OVERRIDE (or unsets it, for nullopt) for the
/// lifetime of the object, then restores it.
class OverrideFeatures : public test::ScopedEnvironment {
public:
  explicit OverrideFeatures(std::optional<std::string> value)
      : ScopedEnvironment("MOE_CPU_FEATURES_OVERRIDE", std::move(value)) {}
};

TEST(CpuFeaturesTest, KnowsTheFeaturesItChecks) {
  EXPECT_TRUE(isCheckedCpuFeature("sse4.2"));
  EXPECT_TRUE(isCheckedCpuFeature("avx2"));
  EXPECT_TRUE(isCheckedCpuFeature("avx512f"));
  EXPECT_TRUE(isCheckedCpuFeature("amx-tile"));
  EXPECT_FALSE(isCheckedCpuFeature("avx512"));
  EXPECT_FALSE(isCheckedCpuFeature("64bit"));
  EXPECT_FALSE(isCheckedCpuFeature(""));
}

TEST(CpuFeaturesTest, ListsMissingFeaturesInTheirOrderOnce) {
  CpuFeatureSet host = {"sse4.2", "avx", "avx2", "fma"};
  EXPECT_TRUE(missingCpuFeatures({"avx2", "fma", "sse4.2"}, host).empty());
  EXPECT_EQ(missingCpuFeatures(
                {"avx2", "avx512f", "fma", "avx512bw", "avx512f"}, host),
            (std::vector<std::string>{"avx512f", "avx512bw"}));
  // Names the runtime does not check cannot be missing.
  EXPECT_TRUE(missingCpuFeatures({"avx9", "fast-gather"}, host).empty());
  EXPECT_TRUE(missingCpuFeatures({}, {}).empty());
}

TEST(CpuFeaturesTest, DetectsOnlyCheckedFeatures) {
  for (const std::string &feature : detectCpuFeatures())
    EXPECT_TRUE(isCheckedCpuFeature(feature)) << feature;
}

#if defined(__x86_64__) || defined(__i386__)
TEST(CpuFeaturesTest, AgreesWithTheCompilersCpuSupports) {
  CpuFeatureSet detected = detectCpuFeatures();
  auto has = [&](const char *name) { return detected.count(name) == 1; };
  EXPECT_EQ(has("sse3"), bool(__builtin_cpu_supports("sse3")));
  EXPECT_EQ(has("ssse3"), bool(__builtin_cpu_supports("ssse3")));
  EXPECT_EQ(has("sse4.1"), bool(__builtin_cpu_supports("sse4.1")));
  EXPECT_EQ(has("sse4.2"), bool(__builtin_cpu_supports("sse4.2")));
  EXPECT_EQ(has("popcnt"), bool(__builtin_cpu_supports("popcnt")));
  EXPECT_EQ(has("avx"), bool(__builtin_cpu_supports("avx")));
  EXPECT_EQ(has("avx2"), bool(__builtin_cpu_supports("avx2")));
  EXPECT_EQ(has("fma"), bool(__builtin_cpu_supports("fma")));
  EXPECT_EQ(has("bmi"), bool(__builtin_cpu_supports("bmi")));
  EXPECT_EQ(has("bmi2"), bool(__builtin_cpu_supports("bmi2")));
  EXPECT_EQ(has("avx512f"), bool(__builtin_cpu_supports("avx512f")));
  EXPECT_EQ(has("avx512cd"), bool(__builtin_cpu_supports("avx512cd")));
  EXPECT_EQ(has("avx512bw"), bool(__builtin_cpu_supports("avx512bw")));
  EXPECT_EQ(has("avx512dq"), bool(__builtin_cpu_supports("avx512dq")));
  EXPECT_EQ(has("avx512vl"), bool(__builtin_cpu_supports("avx512vl")));
  EXPECT_EQ(has("avx512vnni"), bool(__builtin_cpu_supports("avx512vnni")));
  // AVX2 is usable only where AVX is.
  EXPECT_TRUE(has("avx") || !has("avx2"));
}
#endif

TEST(CpuFeaturesTest, TakesTheHostsFeaturesFromTheOverride) {
  {
    OverrideFeatures features("avx2,fma,,sse4.2,");
    Expected<CpuFeatureSet> host = hostCpuFeatures();
    ASSERT_TRUE(host.ok()) << host.message();
    EXPECT_EQ(*host, (CpuFeatureSet{"avx2", "fma", "sse4.2"}));
  }
  {
    OverrideFeatures none("");
    Expected<CpuFeatureSet> host = hostCpuFeatures();
    ASSERT_TRUE(host.ok()) << host.message();
    EXPECT_TRUE(host->empty());
  }
  {
    OverrideFeatures unset(std::nullopt);
    Expected<CpuFeatureSet> host = hostCpuFeatures();
    ASSERT_TRUE(host.ok()) << host.message();
    EXPECT_EQ(*host, detectCpuFeatures());
  }
}

TEST(CpuFeaturesTest, RejectsAnUnknownNameInTheOverride) {
  OverrideFeatures features("avx2,avx512");
  Expected<CpuFeatureSet> host = hostCpuFeatures();
  ASSERT_FALSE(host.ok());
  EXPECT_EQ(host.message().rfind("MOE_CPU_FEATURES_OVERRIDE: unknown CPU "
                                 "feature 'avx512' (known: sse3 ssse3 ",
                                 0),
            0u)
      << host.message();
  EXPECT_EQ(checkHostCpu("x86-64-v3", {"avx2"}).message(), host.message());
}

TEST(CpuFeaturesTest, ChecksTheHostHasEveryFeatureOfTheCpu) {
  OverrideFeatures features("sse4.2,avx,avx2,fma");
  EXPECT_TRUE(checkHostCpu("x86-64-v3", {"sse4.2", "avx2", "fma"}).ok());
  EXPECT_TRUE(checkHostCpu("x86-64", {}).ok());
  EXPECT_TRUE(checkHostCpu("future", {"avx2", "avx9"}).ok());
  EXPECT_EQ(checkHostCpu("x86-64-v4", {"avx2", "avx512f", "fma", "avx512bw"})
                .message(),
            "built for CPU 'x86-64-v4' with features avx512f, avx512bw that "
            "this CPU lacks");
  EXPECT_EQ(checkHostCpu("haswell", {"avx2", "bmi2"}).message(),
            "built for CPU 'haswell' with feature bmi2 that this CPU lacks");
}

} // namespace
