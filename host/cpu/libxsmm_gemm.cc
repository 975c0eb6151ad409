#include "host/cpu/libxsmm_gemm.h"

#include <climits>
#include <string>

#if defined(GRAFT_HAVE_LIBXSMM)
#include <libxsmm.h>
#endif

namespace graft::cpu {

#if defined(GRAFT_HAVE_LIBXSMM)
namespace {

bool fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

void init_once() {
  static const bool done = [] {
    libxsmm_init();
    return true;
  }();
  (void)done;
}

}  // namespace

bool libxsmm_gemm(bool trans_a, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                  int64_t ldb, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0 || k <= 0) return false;
  if (!fits_int(m) || !fits_int(n) || !fits_int(k) || !fits_int(lda) || !fits_int(ldb) || !fits_int(ldc)) {
    return false;
  }
  init_once();
  // libxsmm is column-major: row-major C = op(A) · B is column-major
  // C' [n x m] = B' [n x k] · op(A)' [k x m], X' being X's storage read
  // column-major (its transpose), so A's transpose becomes the B flag.
  const float alpha = 1.0f, beta = 0.0f;
  const int flags = LIBXSMM_GEMM_FLAG_BETA_0 | (trans_a ? LIBXSMM_GEMM_FLAG_TRANS_B : 0);
  const libxsmm_blasint lda_cm = static_cast<libxsmm_blasint>(ldb);
  const libxsmm_blasint ldb_cm = static_cast<libxsmm_blasint>(lda);
  const libxsmm_blasint ldc_cm = static_cast<libxsmm_blasint>(ldc);
  const libxsmm_smmfunction kernel =
      libxsmm_smmdispatch(static_cast<libxsmm_blasint>(n), static_cast<libxsmm_blasint>(m),
                          static_cast<libxsmm_blasint>(k), &lda_cm, &ldb_cm, &ldc_cm, &alpha, &beta, &flags, nullptr);
  if (kernel == nullptr) return false;
  kernel(b, a, c);
#if defined(__x86_64__)
  // The kernels leave the upper halves of the vector registers dirty; graft's
  // own SSE code after them would then pay a transition penalty on every
  // instruction (measured at batch 50: steps 1.4x longer than with it).
  __asm__ volatile("vzeroupper" ::: "memory");
#endif
  return true;
}

LibxsmmInfo libxsmm_info() {
  init_once();
  LibxsmmInfo info;
  info.built = true;
  info.avx512 = libxsmm_get_target_archid() >= LIBXSMM_X86_AVX512_CORE;
  const char* target = libxsmm_get_target_arch();
  info.target = target ? target : "?";
  info.version = std::to_string(LIBXSMM_VERSION_MAJOR) + "." + std::to_string(LIBXSMM_VERSION_MINOR);
  if (LIBXSMM_VERSION_UPDATE > 0) info.version += "." + std::to_string(LIBXSMM_VERSION_UPDATE);
  return info;
}

#else

bool libxsmm_gemm(bool, int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t) {
  return false;
}

LibxsmmInfo libxsmm_info() { return {}; }

#endif

}  // namespace graft::cpu
