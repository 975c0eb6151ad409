#pragma once
// libxsmm's side of host/cpu/sgemm.h: row-major C[m, n] = op(A) · B
// (beta = 0) with a JIT-generated kernel. Compiled to stubs that return
// false when graft is built without libxsmm.
#include <cstdint>
#include <string>

namespace graft::cpu {

// Runs the GEMM and returns true, or returns false (nothing written) when
// libxsmm has no kernel for it: B transposed, sizes beyond its int range,
// k = 0, or a shape its generator refuses. Thread-safe.
bool libxsmm_gemm(bool trans_a, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                  int64_t ldb, float* c, int64_t ldc);

struct LibxsmmInfo {
  bool built = false;
  bool avx512 = false;   // JIT target is AVX-512 or newer
  std::string target;    // "skx", "clx", "cpx", "hsw", ...
  std::string version;   // "1.17"
};
LibxsmmInfo libxsmm_info();

}  // namespace graft::cpu
