#pragma once
// Fused bias + activation (forward) and activation backward + bias gradient
// (backward). CPU twins: graft::cpu::bias_activation_forward and
// graft::cpu::activation_backward_bias_grad (host/cpu/reference_kernels.h).
#include <cuda_runtime_api.h>

#include <cstdint>

#include "host/model/activation.h"

namespace graft::cuda {

// y[r, c] = act(y[r, c] + bias[c]) in place on the GEMM output y [rows, cols]:
// one read and one write of y.
void bias_activation_forward(float* y, const float* bias, int64_t rows, int64_t cols,
                             const Activation& act, cudaStream_t stream);

// Scratch for the deterministic column reduction: a 2-D grid of
// (column tiles of 32) x (row splits); each block sums its rows in a fixed
// order, writes a partial per column, and the last block to arrive at a
// column tile adds the partials in split order. No float atomics: the result
// depends only on (rows, cols), never on scheduling.
struct BiasGradWorkspace {
  float* partials = nullptr;    // [kBiasGradMaxSplits, max_cols]
  unsigned* arrivals = nullptr;  // [ceil(max_cols / 32)], zero-initialised, left at zero
  int64_t max_cols = 0;
};
constexpr int kBiasGradMaxSplits = 32;
inline int64_t bias_grad_partials_size(int64_t max_cols) { return kBiasGradMaxSplits * max_cols; }
inline int64_t bias_grad_arrivals_size(int64_t max_cols) { return (max_cols + 31) / 32; }

// grad[r, c] *= act'(y[r, c]) in place (grad [rows, cols] is d loss / d output,
// y the layer's output), and bias_grad[c] = sum_r grad[r, c] (overwritten).
// One read of grad and y, one write of grad. cols <= ws.max_cols.
void activation_backward_bias_grad(float* grad, const float* y, float* bias_grad, int64_t rows,
                                   int64_t cols, const Activation& act,
                                   const BiasGradWorkspace& ws, cudaStream_t stream);

}  // namespace graft::cuda
