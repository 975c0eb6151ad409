#pragma once
// Which library runs each of the CPU backend's GEMMs. OpenBLAS runs them all
// by default; where libxsmm is compiled in, its JIT-generated kernels take
// the ones whose B operand (k x n, the layer's kernel in a forward pass)
// stays in half the core's L2: they need no packing of B and no separate
// beta = 0 pass over C, which at graft's shapes (batch 50: 50x784 · 784x300)
// is a quarter of OpenBLAS's time. Larger B, and B transposed (the input
// gradient), stay with OpenBLAS, whose blocking wins there. Measured per
// shape on Intel AVX-512 cores (docs/performance.md): libxsmm's AVX2 kernels
// lose to OpenBLAS's, and AMD's AVX-512 cores are unmeasured, so "auto" uses
// libxsmm only on Intel cores where libxsmm targets AVX-512.
//
// Policy, GRAFT_CPU_GEMM:
//   unset, auto  as above
//   openblas     OpenBLAS for every GEMM
//   libxsmm      libxsmm wherever B fits, on any CPU (to measure a new one)
// Anything else is ignored, and the summary says so.
#include <cstdint>
#include <string>

#include "host/cpu/cpu_features.h"

namespace graft::cpu {

enum class GemmEngine { kOpenBlas, kLibxsmm };

// What the choice looks at.
struct GemmEngineInputs {
  std::string policy;              // GRAFT_CPU_GEMM ("" when unset)
  bool libxsmm_built = false;      // compiled with libxsmm
  bool libxsmm_avx512 = false;     // libxsmm's JIT target is AVX-512 (its own CPUID reading)
  std::string libxsmm_target;      // libxsmm_get_target_arch(): "skx", "cpx", "hsw", ...
  std::string libxsmm_version;     // "1.17"
  int64_t l2_bytes = 0;            // one core's L2 (0: unknown)
};

struct GemmEnginePolicy {
  bool libxsmm = false;        // libxsmm takes the GEMMs below the budget
  int64_t b_budget_bytes = 0;  // largest B (k x n floats) libxsmm takes
  std::string summary;         // for the reports: what runs where, and why not when it could
};

// The budget when the L2 size is unknown.
constexpr int64_t kUnknownL2BudgetBytes = 512 * 1024;

GemmEnginePolicy decide_gemm_engine(const CpuFeatures& cpu, const GemmEngineInputs& in);

// This process's policy, decided once.
const GemmEnginePolicy& gemm_engine_policy();

// The engine for row-major C[m, n] = op(A) · op(B) under policy p: only
// B (k x n, transposed or not) decides.
GemmEngine gemm_engine(const GemmEnginePolicy& p, bool trans_b, int64_t n, int64_t k);

// "OpenBLAS 0.3.21, SkylakeX kernels" plus, when libxsmm takes some GEMMs,
// "; libxsmm 1.17 (spr) JIT kernels where B fits 1024 KiB". For the CPU
// backend's description, graft --version and the benchmark.
std::string cpu_gemm_summary();

}  // namespace graft::cpu
