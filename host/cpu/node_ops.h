#pragma once
// The CPU backend's batch-norm and dropout nodes on one batch: the glue
// between the step plan's per-node form (training or inference) and the
// kernels (host/cpu/batch_norm_kernels.h, host/cpu/dropout_kernels.h). The
// dense node stays in the backend (cpu_backend_forward.cc,
// cpu_backend_backward.cc), where its parallel GEMM schedule is.
//
// Buffers are [rows, cols] row-major, one feature per column.
#include <cstdint>

#include "host/backend.h"

namespace graft::cpu {

// A batch-norm node's parameters (pointers into the flat buffers; gamma and
// beta null without scale / center) and its per-step statistics ([cols]).
struct BatchNormTensors {
  const float* gamma = nullptr;
  const float* beta = nullptr;
  float* moving_mean = nullptr;
  float* moving_variance = nullptr;
  float* batch_mean = nullptr;  // of the last training-form forward
  float* batch_var = nullptr;
  float* rstd = nullptr;
};

// y = act(BN(x)). Training form: the batch's statistics, then the moving
// averages updated with TF's rule. Inference form: the moving statistics.
//
// Which variance feeds moving_variance: the biased one (divide by rows).
// On 2-D inputs tf.layers.batch_normalization (TF1) and Keras
// BatchNormalization take the non-fused path: tensorflow/python/layers/
// normalization.py, build(): `self.fused = (not self.renorm and ndims == 4
// and ...)`, so a [batch, features] input is never fused; call() then takes
// `mean, variance = nn.moments(inputs, reduction_axes)` (biased: the mean of
// squared deviations) and feeds that variance unchanged to
// moving_averages.assign_moving_average(self.moving_variance, ...). The
// fused kernel's Bessel correction (n / (n - 1)) applies to 4-D inputs only.
void batch_norm_forward(const float* x, float* y, int64_t rows, const NodeShape& node, bool train,
                        const BatchNormTensors& t);

// Backward from dy = d loss / d y (y the forward's output). Training form:
// through the batch statistics (batch_norm_backward). Inference form (a
// frozen batch norm with a trainable node below, or its gamma/beta trained
// with fixed statistics): y = act(x * inv + shift) with inv = gamma * rstd_m,
// rstd_m = 1/sqrtf(moving_var + eps), so g = act'(dy, y), dx = g * inv,
// dbeta = sum g, dgamma = sum g * (x - moving_mean) * rstd_m. dx, dgamma and
// dbeta are nullable (not needed).
void batch_norm_backward(const float* dy, const float* y, const float* x, int64_t rows, const NodeShape& node,
                         bool train, const BatchNormTensors& t, float* dx, float* dgamma, float* dbeta);

// Dropout: the training form draws the mask for (seed, step, node); the
// inference form is the identity (a copy when x and y differ).
void dropout_forward(const float* x, float* y, int64_t rows, const NodeShape& node, bool train, uint64_t seed,
                     uint64_t step, uint32_t node_index);
void dropout_backward(const float* dy, float* dx, int64_t rows, const NodeShape& node, bool train, uint64_t seed,
                      uint64_t step, uint32_t node_index);

}  // namespace graft::cpu
