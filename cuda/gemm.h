#pragma once
// The dense layer's three GEMMs through cuBLAS, on row-major TF-layout
// tensors without copies. cuBLAS is column-major, and a row-major [r, c]
// matrix is the column-major [c, r] matrix, i.e. its transpose, so
//   Y = X·W   (row-major)  <=>  Yᵀ = Wᵀ·Xᵀ   (column-major)
// and each product below is issued with the operands swapped:
//   forward   Y[n, out]  = X[n, in] · W[in, out]    sgemm(N, N, out, n, in;  W, X)
//   weights   dW[in, out] = X[n, in]ᵀ · dY[n, out]  sgemm(N, T, out, in, n;  dY, X)
//   inputs    dX[n, in]  = dY[n, out] · W[in, out]ᵀ sgemm(T, N, in, n, out;  W, dY)
// All with alpha = 1, beta = 0 (outputs overwritten), host pointer mode.
#include <cublas_v2.h>

#include <cstdint>

namespace graft::cuda {

void gemm_forward(cublasHandle_t h, const float* x, const float* w, float* y, int64_t n,
                  int64_t in, int64_t out);
void gemm_weight_grad(cublasHandle_t h, const float* x, const float* dy, float* dw, int64_t n,
                      int64_t in, int64_t out);
void gemm_input_grad(cublasHandle_t h, const float* dy, const float* w, float* dx, int64_t n,
                     int64_t in, int64_t out);

}  // namespace graft::cuda
