#include "cuda/gemm.h"

#include <limits>
#include <string>

#include "checkpoint/error.h"
#include "cuda/cuda_check.h"

namespace graft::cuda {
namespace {

int to_int(int64_t v, const char* what) {
  if (v < 0 || v > std::numeric_limits<int>::max()) {
    throw Error(std::string("GEMM dimension ") + what + " = " + std::to_string(v) +
                " is outside cuBLAS's int range");
  }
  return static_cast<int>(v);
}

constexpr float kOne = 1.0f;
constexpr float kZero = 0.0f;

}  // namespace

void gemm_forward(cublasHandle_t h, const float* x, const float* w, float* y, int64_t n,
                  int64_t in, int64_t out) {
  const int m_ = to_int(out, "out"), n_ = to_int(n, "batch"), k_ = to_int(in, "in");
  GRAFT_CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, m_, n_, k_, &kOne, w, m_, x, k_,
                                 &kZero, y, m_));
}

void gemm_weight_grad(cublasHandle_t h, const float* x, const float* dy, float* dw, int64_t n,
                      int64_t in, int64_t out) {
  const int m_ = to_int(out, "out"), n_ = to_int(in, "in"), k_ = to_int(n, "batch");
  GRAFT_CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_T, m_, n_, k_, &kOne, dy, m_, x, n_,
                                 &kZero, dw, m_));
}

void gemm_input_grad(cublasHandle_t h, const float* dy, const float* w, float* dx, int64_t n,
                     int64_t in, int64_t out) {
  const int m_ = to_int(in, "in"), n_ = to_int(n, "batch"), k_ = to_int(out, "out");
  GRAFT_CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, m_, n_, k_, &kOne, w, k_, dy, k_,
                                 &kZero, dx, m_));
}

}  // namespace graft::cuda
