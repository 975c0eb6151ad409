#pragma once
// The one copy of batch normalization's scalar rules (TensorFlow's
// tf.nn.batch_normalization and the layers' moving averages), for the CPU
// backend, the CUDA kernels and the fused program. The per-feature
// reductions (sums over the batch) are the caller's: their order is the
// backend's, so CPU and GPU agree to rounding, not to the bit.
//
// Forward, for one feature with statistics (mean, variance) — the batch's in
// training, the moving ones in evaluation:
//   inv = rsqrt(variance + epsilon) * gamma        (gamma = 1 without scale)
//   y   = x * inv + (beta - mean * inv)            (beta = 0 without center)
// TF's nn.batch_normalization in exactly this order; rsqrt is written
// 1 / sqrtf(.) so host and device round it the same (both IEEE).
//
// Training statistics: mean = sum(x) / N, variance = sum((x - mean)^2) / N
// (nn.moments: biased, divide by N). The moving averages follow TF's
// _assign_moving_average: moving -= (moving - batch_value) * (1 - momentum).
// Which variance feeds moving_variance (biased, or Bessel-corrected as TF's
// fused kernel returns it) is the caller's choice, argued where it is made.
#include <math.h>

#include "host/math/hd.h"

namespace graft::math {

GRAFT_HD inline float batch_norm_inv(float variance, float epsilon, float gamma) {
  return (1.0f / sqrtf(variance + epsilon)) * gamma;
}
GRAFT_HD inline float batch_norm_shift(float mean, float inv, float beta) { return beta - mean * inv; }
GRAFT_HD inline float batch_norm_apply(float x, float inv, float shift) { return x * inv + shift; }

// decay = 1 - momentum, as a float (TF converts the Python double 1 - momentum).
GRAFT_HD inline float moving_average_update(float moving, float batch_value, float decay) {
  return moving - (moving - batch_value) * decay;
}

// Backward through training-mode batch norm for one element, given the
// feature's reductions over the batch: sum_dy = sum(dy), sum_dy_xhat =
// sum(dy * xhat) with xhat = (x - mean) * rstd, rstd = 1 / sqrtf(var + eps).
//   dx = gamma * rstd / N * (N * dy - sum_dy - xhat * sum_dy_xhat)
//   dgamma = sum_dy_xhat, dbeta = sum_dy (the reductions themselves).
GRAFT_HD inline float batch_norm_input_grad(float dy, float xhat, float gamma_rstd_over_n, float n, float sum_dy,
                                            float sum_dy_xhat) {
  return gamma_rstd_over_n * (n * dy - sum_dy - xhat * sum_dy_xhat);
}

}  // namespace graft::math
