#pragma once
// The one BLAS call of the CPU backend, in graft's terms: row-major
// C[m, n] = op(A) · op(B) (beta = 0) on the calling thread.
#include <cblas.h>

#include <cstdint>

namespace graft::cpu {

inline void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), 1.0f, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), 0.0f, c, static_cast<blasint>(ldc));
}

// OpenBLAS's own thread count (process-wide).
inline void set_blas_threads(int threads) { openblas_set_num_threads(threads); }

}  // namespace graft::cpu
