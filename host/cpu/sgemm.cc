#include "host/cpu/sgemm.h"

#include <cblas.h>

#include "host/cpu/gemm_engine.h"
#include "host/cpu/libxsmm_gemm.h"

namespace graft::cpu {

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
          int64_t ldb, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (gemm_engine(gemm_engine_policy(), trans_b, n, k) == GemmEngine::kLibxsmm &&
      libxsmm_gemm(trans_a, m, n, k, a, lda, b, ldb, c, ldc)) {
    return;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), 1.0f, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), 0.0f, c, static_cast<blasint>(ldc));
}

void set_blas_threads(int threads) { openblas_set_num_threads(threads); }

}  // namespace graft::cpu
