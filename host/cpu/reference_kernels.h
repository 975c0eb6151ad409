#pragma once
// The CPU twins of the CUDA kernels (cuda/*.cu): the exact reference that the
// GPU is tested against, and the building blocks of the CPU backend. Each
// function makes one pass over its data, like the fused kernel it mirrors.
#include <cstdint>

#include "host/model/activation.h"
#include "host/model/optimizer_config.h"

namespace graft::cpu {

// In place on the GEMM output y = x·W ([rows, cols] row-major):
// y[r, c] = act(y[r, c] + bias[c]).
void bias_activation_forward(float* y, const float* bias, int64_t rows, int64_t cols,
                             const Activation& act);

// Backward through the activation, from the layer's *output* y (every
// supported activation's derivative is a function of its output, as in TF's
// ReluGrad/EluGrad/SeluGrad/TanhGrad/SigmoidGrad):
// grad[r, c] *= act'(y[r, c]) in place, and bias_grad[c] = sum_r grad[r, c]
// (overwritten, not accumulated).
void activation_backward_bias_grad(float* grad, const float* y, float* bias_grad, int64_t rows,
                                   int64_t cols, const Activation& act);

// Numerically stable sparse softmax cross-entropy on logits [rows, classes]:
// writes dlogits = (softmax - onehot(label)) * grad_scale (grad_scale = 1/rows
// for the mean loss), adds the per-sample losses to *loss_sum and the top-1
// hits (in_top_k with k = 1: no logit is strictly larger than the label's,
// so ties count as hits, as in TF; a non-finite logit row is a miss) to *correct. dlogits may be null (evaluation).
// Labels outside [0, classes) give a loss of +inf and no hit.
void softmax_xent(const float* logits, const int32_t* labels, float* dlogits, int64_t rows,
                  int64_t classes, float grad_scale, double* loss_sum, int64_t* correct);

// Sum of squares of n gradient elements (for clip-by-global-norm).
double sum_of_squares(const float* g, int64_t n);

// One fused optimizer update of n elements: g' = clamp(g * grad_scale, -T, T)
// when config.clip_value > 0 (else g * grad_scale), then the rule of
// config.kind (host/model/optimizer_config.h). slot0/slot1 may be null when the
// optimizer has fewer slots. `scalars` are the values before this step
// (adam uses scalars.beta1_power and beta2_power as b1^t and b2^t).
void optimizer_update(const OptimizerConfig& config, const OptimizerScalars& scalars, float* w,
                      const float* g, float* slot0, float* slot1, int64_t n, float grad_scale);

// Row gather: out[i, :] = src[index[i], :] for i < n.
void gather_rows(const float* src, const uint32_t* index, float* out, int64_t n, int64_t cols);

}  // namespace graft::cpu
