#pragma once
// The one GEMM call of the CPU backend, in graft's terms: row-major
// C[m, n] = op(A) · op(B) (beta = 0) on the calling thread. OpenBLAS or
// libxsmm runs it, as host/cpu/gemm_engine.h decides from the shape; for a
// given shape the choice never changes within a process, so results are
// deterministic.
#include <cstdint>

namespace graft::cpu {

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
          int64_t ldb, float* c, int64_t ldc);

// OpenBLAS's own thread count (process-wide).
void set_blas_threads(int threads);

}  // namespace graft::cpu
