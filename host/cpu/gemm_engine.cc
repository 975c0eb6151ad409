#include "host/cpu/gemm_engine.h"

#include <unistd.h>

#include <cstdlib>

#include "host/cpu/blas_kernels.h"
#include "host/cpu/libxsmm_gemm.h"

namespace graft::cpu {
namespace {

constexpr const char* kPolicyVar = "GRAFT_CPU_GEMM";

std::string kib(int64_t bytes) { return std::to_string(bytes / 1024) + " KiB"; }

// One core's L2 in bytes, 0 when the system does not say.
int64_t host_l2_bytes() {
#if defined(_SC_LEVEL2_CACHE_SIZE)
  const long v = sysconf(_SC_LEVEL2_CACHE_SIZE);
  if (v > 0) return v;
#endif
  return 0;
}

}  // namespace

GemmEnginePolicy decide_gemm_engine(const CpuFeatures& cpu, const GemmEngineInputs& in) {
  GemmEnginePolicy p;
  const bool known = in.policy.empty() || in.policy == "auto" || in.policy == "openblas" || in.policy == "libxsmm";
  const std::string policy = known && !in.policy.empty() ? in.policy : "auto";
  std::string note = known ? "" : std::string(kPolicyVar) + "=" + in.policy + " not understood (auto, openblas or libxsmm), ignored";
  auto with_note = [&](std::string s) { return note.empty() ? s : s + " [" + note + "]"; };
  if (policy == "openblas") {
    p.summary = with_note(in.libxsmm_built ? std::string(kPolicyVar) + "=openblas: libxsmm not used" : "");
    return p;
  }
  if (!in.libxsmm_built) {
    p.summary = with_note(policy == "libxsmm" ? std::string(kPolicyVar) + "=libxsmm, but graft is built without it"
                                              : "");
    return p;
  }
  const std::string lib = "libxsmm " + in.libxsmm_version + " (" + in.libxsmm_target + ")";
  if (policy == "auto") {
    if (cpu.vendor != "GenuineIntel" || !in.libxsmm_avx512) {
      p.summary = with_note(lib + " not used: measured faster on Intel AVX-512 cores only (" + kPolicyVar +
                            "=libxsmm to try it)");
      return p;
    }
  }
  p.libxsmm = true;
  p.b_budget_bytes = in.l2_bytes > 0 ? in.l2_bytes / 2 : kUnknownL2BudgetBytes;
  p.summary = with_note(lib + " JIT kernels where B fits " + kib(p.b_budget_bytes) +
                        (in.l2_bytes > 0 ? " (half of L2)" : " (L2 size unknown)"));
  return p;
}

const GemmEnginePolicy& gemm_engine_policy() {
  static const GemmEnginePolicy policy = [] {
    GemmEngineInputs in;
    const char* env = std::getenv(kPolicyVar);
    in.policy = env ? env : "";
    const LibxsmmInfo x = libxsmm_info();
    in.libxsmm_built = x.built;
    in.libxsmm_avx512 = x.avx512;
    in.libxsmm_target = x.target;
    in.libxsmm_version = x.version;
    in.l2_bytes = host_l2_bytes();
    return decide_gemm_engine(host_cpu_features(), in);
  }();
  return policy;
}

GemmEngine gemm_engine(const GemmEnginePolicy& p, bool trans_b, int64_t n, int64_t k) {
  if (!p.libxsmm || trans_b || k <= 0 || n <= 0) return GemmEngine::kOpenBlas;
  const double b_bytes = static_cast<double>(k) * static_cast<double>(n) * sizeof(float);
  return b_bytes <= static_cast<double>(p.b_budget_bytes) ? GemmEngine::kLibxsmm : GemmEngine::kOpenBlas;
}

std::string cpu_gemm_summary() {
  const GemmEnginePolicy& p = gemm_engine_policy();
  std::string s = blas_summary();
  if (!p.summary.empty()) s += "; " + p.summary;
  return s;
}

}  // namespace graft::cpu
