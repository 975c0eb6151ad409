#pragma once
// Batch normalization on dense activations ([rows, cols] row-major float32,
// one feature per column), TensorFlow's semantics (tf.layers.batch_normalization
// / Keras BatchNormalization on a rank-2 input), on the scalar rules of
// host/math/batch_norm_math.h. The CPU twins of cuda/batch_norm.h.
//
// gamma / beta are nullable: null means scale=false (gamma = 1) / center=false
// (beta = 0). `act` is fused after the normalisation (y = act(BN(x))); pass
// the identity when batch norm comes after the layer's activation.
//
// The per-feature reductions (sums over the rows) accumulate in double, in
// row order: the result does not depend on the thread count, and is within
// one float rounding of the exact statistics, so the GPU twin (which sums in
// double in another order) agrees to the ulp, not only to rounding noise.
#include <cstdint>

#include "host/model/activation.h"

namespace graft::cpu {

// Training mode. batch_mean[c] = sum_r x / rows; batch_var[c] = sum_r (x -
// mean)^2 / rows (biased, as nn.moments; two passes: the mean first);
// rstd[c] = 1 / sqrtf(batch_var + epsilon). y = act(x * inv + shift) with
// inv = rstd * gamma, shift = beta - mean * inv. Outputs [cols] each; y
// [rows, cols] (may alias x). rows >= 1.
void batch_norm_forward_train(const float* x, int64_t rows, int64_t cols, const float* gamma,
                              const float* beta, float epsilon, Activation act, float* y,
                              float* batch_mean, float* batch_var, float* rstd);

// Evaluation (and frozen) mode: the same with the moving statistics.
void batch_norm_forward_infer(const float* x, int64_t rows, int64_t cols, const float* gamma,
                              const float* beta, const float* moving_mean,
                              const float* moving_var, float epsilon, Activation act, float* y);

// TF's _assign_moving_average: moving -= (moving - batch) * (1 - momentum),
// decay = float32(1 - momentum) computed in double, as TF converts it. bessel_correction multiplies batch_var by
// float(rows) / float(rows - 1) first (TF's fused kernel's rest_size_adjust),
// which rows > 1 requires (rows == 1 with the correction throws graft::Error).
void batch_norm_update_moving(float* moving_mean, float* moving_var, const float* batch_mean,
                              const float* batch_var, int64_t rows, int64_t cols, double momentum,
                              bool bessel_correction);

// Backward through y = act(BN(x)) in training mode. dy = d loss / d y; y is
// the op's output (act's derivative is taken from it); x, batch_mean and rstd
// as in the forward. With g = act'(dy, y) and xhat = (x - mean) * rstd:
//   dbeta[c] = sum_r g, dgamma[c] = sum_r g * xhat   (overwritten)
//   dx = batch_norm_input_grad(g, xhat, gamma * rstd / rows, rows, dbeta, dgamma)
// dx, dgamma, dbeta are each nullable; dx may alias dy.
void batch_norm_backward(const float* dy, const float* y, Activation act, const float* x,
                         const float* batch_mean, const float* rstd, const float* gamma,
                         int64_t rows, int64_t cols, float* dx, float* dgamma, float* dbeta);

}  // namespace graft::cpu
