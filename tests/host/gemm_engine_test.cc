// Which library runs a CPU GEMM (host/cpu/gemm_engine.h), and libxsmm's
// kernels (host/cpu/libxsmm_gemm.h) and the dispatching gemm()
// (host/cpu/sgemm.h) against a double-precision reference.
#include "host/cpu/gemm_engine.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "host/cpu/libxsmm_gemm.h"
#include "host/cpu/sgemm.h"
#include "tests/common/expect_contains.h"

namespace graft::cpu {
namespace {

CpuFeatures intel_avx512() {
  CpuFeatures f;
  f.vendor = "GenuineIntel";
  f.avx = f.avx2 = f.fma = true;
  f.avx512f = f.avx512bw = f.avx512vl = f.avx512dq = true;
  return f;
}

GemmEngineInputs built_skx(int64_t l2 = 2 << 20) {
  GemmEngineInputs in;
  in.libxsmm_built = true;
  in.libxsmm_avx512 = true;
  in.libxsmm_target = "skx";
  in.libxsmm_version = "1.17";
  in.l2_bytes = l2;
  return in;
}

TEST(GemmEngine, IntelAvx512UsesLibxsmmWithHalfTheL2) {
  const GemmEnginePolicy p = decide_gemm_engine(intel_avx512(), built_skx());
  EXPECT_TRUE(p.libxsmm);
  EXPECT_EQ(p.b_budget_bytes, 1 << 20);
  EXPECT_CONTAINS(p.summary, "libxsmm 1.17 (skx) JIT kernels where B fits 1024 KiB (half of L2)");
}

TEST(GemmEngine, UnknownL2TakesTheSmallBudgetAndSaysSo) {
  const GemmEnginePolicy p = decide_gemm_engine(intel_avx512(), built_skx(0));
  EXPECT_TRUE(p.libxsmm);
  EXPECT_EQ(p.b_budget_bytes, kUnknownL2BudgetBytes);
  EXPECT_CONTAINS(p.summary, "L2 size unknown");
}

TEST(GemmEngine, AutoLeavesUnmeasuredCpusToOpenBlas) {
  CpuFeatures amd = intel_avx512();
  amd.vendor = "AuthenticAMD";
  GemmEnginePolicy p = decide_gemm_engine(amd, built_skx());
  EXPECT_FALSE(p.libxsmm);
  EXPECT_CONTAINS(p.summary, "not used: measured faster on Intel AVX-512 cores only");
  EXPECT_CONTAINS(p.summary, "GRAFT_CPU_GEMM=libxsmm");
  // libxsmm's own CPUID reading says AVX2 only: its AVX2 kernels lose.
  GemmEngineInputs hsw = built_skx();
  hsw.libxsmm_avx512 = false;
  hsw.libxsmm_target = "hsw";
  p = decide_gemm_engine(intel_avx512(), hsw);
  EXPECT_FALSE(p.libxsmm);
  EXPECT_CONTAINS(p.summary, "(hsw) not used");
  // Asked for by name, it is used anyway (to measure a new CPU).
  hsw.policy = "libxsmm";
  EXPECT_TRUE(decide_gemm_engine(amd, hsw).libxsmm);
}

TEST(GemmEngine, PoliciesAndTheirReports) {
  GemmEngineInputs in = built_skx();
  in.policy = "openblas";
  GemmEnginePolicy p = decide_gemm_engine(intel_avx512(), in);
  EXPECT_FALSE(p.libxsmm);
  EXPECT_CONTAINS(p.summary, "GRAFT_CPU_GEMM=openblas");
  in.policy = "fastest";
  p = decide_gemm_engine(intel_avx512(), in);
  EXPECT_TRUE(p.libxsmm);  // ignored: auto
  EXPECT_CONTAINS(p.summary, "GRAFT_CPU_GEMM=fastest not understood (auto, openblas or libxsmm), ignored");
  GemmEngineInputs none;
  EXPECT_EQ(decide_gemm_engine(intel_avx512(), none).summary, "");
  none.policy = "libxsmm";
  p = decide_gemm_engine(intel_avx512(), none);
  EXPECT_FALSE(p.libxsmm);
  EXPECT_CONTAINS(p.summary, "built without it");
}

TEST(GemmEngine, ShapeRule) {
  GemmEnginePolicy p;
  p.libxsmm = true;
  p.b_budget_bytes = 1 << 20;
  // B = k x n floats: 784 x 300 (940 KB) fits, 784 x 400 does not.
  EXPECT_EQ(gemm_engine(p, false, 300, 784), GemmEngine::kLibxsmm);
  EXPECT_EQ(gemm_engine(p, false, 300, 50), GemmEngine::kLibxsmm);  // the weight gradient (A transposed)
  EXPECT_EQ(gemm_engine(p, false, 400, 784), GemmEngine::kOpenBlas);
  EXPECT_EQ(gemm_engine(p, false, 300, 4096), GemmEngine::kOpenBlas);
  // B transposed (the input gradient) and empty products stay with OpenBLAS.
  EXPECT_EQ(gemm_engine(p, true, 50, 50), GemmEngine::kOpenBlas);
  EXPECT_EQ(gemm_engine(p, false, 50, 0), GemmEngine::kOpenBlas);
  p.libxsmm = false;
  EXPECT_EQ(gemm_engine(p, false, 50, 50), GemmEngine::kOpenBlas);
}

// A GEMM case: row-major C[m, n] = op(A) · op(B) with padded leading dimensions.
struct Case {
  bool ta, tb;
  int64_t m, n, k;
};

struct Operands {
  int64_t lda, ldb, ldc;
  std::vector<float> a, b, c;
};

Operands make(const Case& t, uint32_t seed) {
  Operands o;
  o.lda = (t.ta ? t.m : t.k) + 3;  // padded: the kernel must honour ld
  o.ldb = (t.tb ? t.k : t.n) + 5;
  o.ldc = t.n + 7;
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  o.a.resize(static_cast<std::size_t>((t.ta ? t.k : t.m) * o.lda));
  o.b.resize(static_cast<std::size_t>((t.tb ? t.n : t.k) * o.ldb));
  for (float& v : o.a) v = u(gen);
  for (float& v : o.b) v = u(gen);
  o.c.assign(static_cast<std::size_t>(t.m * o.ldc), 123.0f);  // padding must keep this value
  return o;
}

// Checks c against the reference in double precision. The tolerance is the
// a-priori bound on an fp32 dot product of k terms, any summation order:
// |error| <= k * eps * sum |a_i b_i| (gamma_k, Higham 3.1), plus one eps.
void expect_matches_reference(const Case& t, const Operands& o) {
  for (int64_t i = 0; i < t.m; ++i) {
    for (int64_t j = 0; j < t.n; ++j) {
      double ref = 0.0, mag = 0.0;
      for (int64_t p = 0; p < t.k; ++p) {
        const double x = t.ta ? o.a[p * o.lda + i] : o.a[i * o.lda + p];
        const double y = t.tb ? o.b[j * o.ldb + p] : o.b[p * o.ldb + j];
        ref += x * y;
        mag += std::fabs(x * y);
      }
      const double tol = (static_cast<double>(t.k) + 1.0) * FLT_EPSILON * (mag + 1.0);
      ASSERT_NEAR(o.c[i * o.ldc + j], ref, tol) << "C[" << i << "," << j << "] of " << t.m << "x" << t.n << "x"
                                                << t.k << (t.ta ? " A^T" : "") << (t.tb ? " B^T" : "");
    }
    for (int64_t j = t.n; j < o.ldc; ++j) ASSERT_EQ(o.c[i * o.ldc + j], 123.0f) << "padding of row " << i;
  }
}

const Case kOddCases[] = {
    {false, false, 1, 1, 1},   {false, false, 7, 13, 5},  {true, false, 7, 13, 5},   {false, false, 50, 37, 301},
    {true, false, 301, 37, 50}, {false, false, 3, 300, 784}, {true, false, 33, 17, 129}, {false, false, 129, 1, 17},
};

TEST(LibxsmmGemm, MatchesReferenceOnOddSizes) {
  if (!libxsmm_info().built) GTEST_SKIP() << "graft is built without libxsmm (GRAFT_WITH_LIBXSMM)";
  uint32_t seed = 1;
  for (const Case& t : kOddCases) {
    Operands o = make(t, seed++);
    ASSERT_TRUE(libxsmm_gemm(t.ta, t.m, t.n, t.k, o.a.data(), o.lda, o.b.data(), o.ldb, o.c.data(), o.ldc))
        << t.m << "x" << t.n << "x" << t.k;
    expect_matches_reference(t, o);
  }
}

TEST(LibxsmmGemm, DeterministicAndRefusesWhatItCannotRun) {
  if (!libxsmm_info().built) GTEST_SKIP() << "graft is built without libxsmm (GRAFT_WITH_LIBXSMM)";
  const Case t{false, false, 50, 37, 301};
  Operands o1 = make(t, 9), o2 = make(t, 9);
  ASSERT_TRUE(libxsmm_gemm(false, t.m, t.n, t.k, o1.a.data(), o1.lda, o1.b.data(), o1.ldb, o1.c.data(), o1.ldc));
  ASSERT_TRUE(libxsmm_gemm(false, t.m, t.n, t.k, o2.a.data(), o2.lda, o2.b.data(), o2.ldb, o2.c.data(), o2.ldc));
  EXPECT_EQ(o1.c, o2.c);  // bit-identical
  std::vector<float> c(4, 5.0f);
  EXPECT_FALSE(libxsmm_gemm(false, 2, 2, 0, o1.a.data(), 1, o1.b.data(), 2, c.data(), 2));
  EXPECT_FALSE(libxsmm_gemm(false, int64_t{1} << 32, 2, 2, o1.a.data(), 2, o1.b.data(), 2, c.data(), 2));
  EXPECT_EQ(c, std::vector<float>(4, 5.0f));  // nothing written
}

// gemm() as the backend calls it, whichever library the policy picks.
TEST(CpuGemm, MatchesReferenceEitherWay) {
  const Case cases[] = {{false, false, 7, 13, 5},  {true, false, 301, 37, 50}, {false, true, 50, 37, 301},
                        {true, true, 17, 33, 9},   {false, false, 3, 300, 784}, {false, false, 2, 1100, 300}};
  uint32_t seed = 100;
  for (const Case& t : cases) {
    Operands o = make(t, seed++);
    gemm(t.ta, t.tb, t.m, t.n, t.k, o.a.data(), o.lda, o.b.data(), o.ldb, o.c.data(), o.ldc);
    expect_matches_reference(t, o);
  }
}

TEST(CpuGemm, SummaryNamesTheLibraries) {
  const std::string s = cpu_gemm_summary();
  EXPECT_CONTAINS(s, "OpenBLAS 0.");
  if (gemm_engine_policy().libxsmm) EXPECT_CONTAINS(s, "JIT kernels where B fits");
}

}  // namespace
}  // namespace graft::cpu
