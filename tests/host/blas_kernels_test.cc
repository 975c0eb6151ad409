// The OpenBLAS kernel check (host/cpu/blas_kernels.h): which core each CPU
// should get, and what graft does about the one OpenBLAS picked.
#include "host/cpu/blas_kernels.h"

#include <gtest/gtest.h>

#include "tests/common/expect_contains.h"

namespace graft::cpu {
namespace {

CpuFeatures sse_only(const char* vendor = "GenuineIntel") {
  CpuFeatures f;
  f.vendor = vendor;
  return f;
}
CpuFeatures avx(const char* vendor = "GenuineIntel") {
  CpuFeatures f = sse_only(vendor);
  f.avx = true;
  return f;
}
CpuFeatures avx2(const char* vendor = "GenuineIntel") {
  CpuFeatures f = avx(vendor);
  f.avx2 = f.fma = true;
  return f;
}
CpuFeatures avx512(const char* vendor = "GenuineIntel") {
  CpuFeatures f = avx2(vendor);
  f.avx512f = f.avx512bw = f.avx512vl = f.avx512dq = true;
  return f;
}

BlasState loaded(const char* core) {
  BlasState s;
  s.corename = core;
  return s;
}

TEST(BlasKernels, CoreLevels) {
  EXPECT_EQ(core_level("Prescott"), KernelLevel::kSse);
  EXPECT_EQ(core_level("prescott"), KernelLevel::kSse);
  EXPECT_EQ(core_level("Core2"), KernelLevel::kSse);
  EXPECT_EQ(core_level("Nehalem"), KernelLevel::kSse);
  EXPECT_EQ(core_level("Sandybridge"), KernelLevel::kAvx);
  EXPECT_EQ(core_level("Excavator"), KernelLevel::kAvx);
  EXPECT_EQ(core_level("Haswell"), KernelLevel::kAvx2);
  EXPECT_EQ(core_level("Zen"), KernelLevel::kAvx2);
  EXPECT_EQ(core_level("SkylakeX"), KernelLevel::kAvx512);
  EXPECT_EQ(core_level("Cooperlake"), KernelLevel::kAvx512);
  EXPECT_EQ(core_level("ARMV8"), KernelLevel::kUnknown);
  EXPECT_EQ(core_level(""), KernelLevel::kUnknown);
}

TEST(BlasKernels, BestCoreFollowsTheFlags) {
  EXPECT_EQ(best_core(avx512()), "SkylakeX");
  EXPECT_EQ(best_core(avx512("AuthenticAMD")), "SkylakeX");  // Zen 4/5
  EXPECT_EQ(best_core(avx2("AuthenticAMD")), "Zen");
  EXPECT_EQ(best_core(avx2("HygonGenuine")), "Zen");
  EXPECT_EQ(best_core(avx2()), "Haswell");
  EXPECT_EQ(best_core(avx()), "Sandybridge");
  EXPECT_EQ(best_core(sse_only()), "");
  CpuFeatures partial = avx512();
  partial.avx512bw = false;  // AVX-512F alone (Knights Landing): not SkylakeX's set
  EXPECT_EQ(best_core(partial), "Haswell");
  CpuFeatures no_fma = avx2();
  no_fma.fma = false;
  EXPECT_EQ(best_core(no_fma), "Sandybridge");
}

// The machine: an AVX-512 Xeon that OpenBLAS 0.3.21 does not know.
TEST(BlasKernels, GenericKernelsOnANewerCpuAreCorrected) {
  const CoreDecision d = decide_core(avx512(), loaded("Prescott"));
  EXPECT_TRUE(d.reexec);
  EXPECT_TRUE(d.older);
  EXPECT_EQ(d.target, "SkylakeX");
  EXPECT_CONTAINS(d.advice, "OPENBLAS_CORETYPE=SkylakeX");
  for (const char* old : {"Core2", "Nehalem", "Sandybridge", "Haswell", "Zen"}) {
    EXPECT_TRUE(decide_core(avx512(), loaded(old)).reexec) << old;
  }
  const CoreDecision amd = decide_core(avx2("AuthenticAMD"), loaded("Prescott"));
  EXPECT_TRUE(amd.reexec);
  EXPECT_EQ(amd.target, "Zen");
  EXPECT_EQ(decide_core(avx2(), loaded("Sandybridge")).target, "Haswell");
}

TEST(BlasKernels, FittingKernelsAreLeftAlone) {
  for (const auto& [cpu, core] : {std::pair{avx2("AuthenticAMD"), "Zen"}, std::pair{avx2("AuthenticAMD"), "Haswell"},
                                  std::pair{avx2(), "Haswell"}, std::pair{avx512(), "SkylakeX"},
                                  std::pair{avx512("AuthenticAMD"), "Cooperlake"}, std::pair{avx(), "Sandybridge"},
                                  std::pair{sse_only(), "Prescott"}, std::pair{avx512(), "ZenFuture"}}) {
    const CoreDecision d = decide_core(cpu, loaded(core));
    EXPECT_FALSE(d.reexec) << core;
    EXPECT_FALSE(d.older) << core;
    EXPECT_EQ(d.brief, "") << core;
    EXPECT_EQ(d.advice, "") << core;
  }
}

TEST(BlasKernels, AUserSetCoreTypeIsKeptAndReported) {
  BlasState s = loaded("Haswell");
  s.env_coretype = "Haswell";
  const CoreDecision d = decide_core(avx512(), s);
  EXPECT_FALSE(d.reexec);
  EXPECT_TRUE(d.older);
  EXPECT_CONTAINS(d.brief, "OPENBLAS_CORETYPE=Haswell");
  EXPECT_CONTAINS(d.brief, "SkylakeX");
  EXPECT_CONTAINS(d.advice, "GRAFT_BLAS_CORE=auto");
  // ... unless the policy says graft chooses.
  s.policy = CorePolicy::kAuto;
  EXPECT_TRUE(decide_core(avx512(), s).reexec);
}

TEST(BlasKernels, KeepPolicyOnlyReports) {
  BlasState s = loaded("Prescott");
  s.policy = CorePolicy::kKeep;
  const CoreDecision d = decide_core(avx512(), s);
  EXPECT_FALSE(d.reexec);
  EXPECT_TRUE(d.older);
  EXPECT_CONTAINS(d.brief, "GRAFT_BLAS_CORE=keep");
}

TEST(BlasKernels, ASingleCoreBuildCannotBeCorrected) {
  BlasState s = loaded("Haswell");
  s.dynamic_arch = false;
  const CoreDecision d = decide_core(avx512(), s);
  EXPECT_FALSE(d.reexec);
  EXPECT_TRUE(d.older);
  EXPECT_CONTAINS(d.advice, "DYNAMIC_ARCH");
}

TEST(BlasKernels, AfterTheReexecTheCorrectionIsReported) {
  BlasState s = loaded("SkylakeX");
  s.env_coretype = "SkylakeX";
  s.fixed_from = "Prescott";
  const CoreDecision d = decide_core(avx512(), s);
  EXPECT_FALSE(d.reexec);
  EXPECT_FALSE(d.older);
  EXPECT_EQ(d.brief, "corrected from Prescott");
}

TEST(BlasKernels, AFailedCorrectionIsNotRetried) {
  BlasState s = loaded("Prescott");  // OpenBLAS ignored the core type
  s.env_coretype = "SkylakeX";
  s.fixed_from = "Prescott";
  s.policy = CorePolicy::kAuto;
  const CoreDecision d = decide_core(avx512(), s);
  EXPECT_FALSE(d.reexec);
  EXPECT_TRUE(d.older);
  EXPECT_CONTAINS(d.brief, "not taken");
}

TEST(BlasKernels, PolicyParsing) {
  bool ok = false;
  EXPECT_EQ(parse_core_policy(nullptr, &ok), CorePolicy::kDefault);
  EXPECT_TRUE(ok);
  EXPECT_EQ(parse_core_policy("", &ok), CorePolicy::kDefault);
  EXPECT_EQ(parse_core_policy("auto", &ok), CorePolicy::kAuto);
  EXPECT_EQ(parse_core_policy("KEEP", &ok), CorePolicy::kKeep);
  EXPECT_TRUE(ok);
  EXPECT_EQ(parse_core_policy("always", &ok), CorePolicy::kDefault);
  EXPECT_FALSE(ok);
}

TEST(BlasKernels, ThisProcessIsReported) {
  const CpuFeatures& cpu = host_cpu_features();
  if (cpu.avx2) {
    EXPECT_TRUE(cpu.avx);
  }
  const std::string s = blas_summary();
  EXPECT_EQ(s.rfind("OpenBLAS 0.", 0), 0u) << s;
  EXPECT_CONTAINS(s, blas_report().core + " kernels");
}

}  // namespace
}  // namespace graft::cpu
