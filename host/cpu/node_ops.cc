#include "host/cpu/node_ops.h"

#include <algorithm>
#include <cmath>

#include "host/cpu/batch_norm_kernels.h"
#include "host/cpu/dropout_kernels.h"
#include "host/math/activation_math.h"
#include "host/math/batch_norm_math.h"

namespace graft::cpu {

void batch_norm_forward(const float* x, float* y, int64_t rows, const NodeShape& node, bool train,
                        const BatchNormTensors& t) {
  const int64_t cols = node.fan_out;
  const BatchNormAttrs& a = node.batch_norm;
  if (train) {
    batch_norm_forward_train(x, rows, cols, t.gamma, t.beta, a.epsilon, node.activation, y, t.batch_mean,
                             t.batch_var, t.rstd);
    // Biased variance (nn.moments), as TF does for 2-D inputs: see the header.
    batch_norm_update_moving(t.moving_mean, t.moving_variance, t.batch_mean, t.batch_var, rows, cols, a.momentum,
                             /*bessel_correction=*/false);
  } else {
    batch_norm_forward_infer(x, rows, cols, t.gamma, t.beta, t.moving_mean, t.moving_variance, a.epsilon,
                             node.activation, y);
  }
}

void batch_norm_backward(const float* dy, const float* y, const float* x, int64_t rows, const NodeShape& node,
                         bool train, const BatchNormTensors& t, float* dx, float* dgamma, float* dbeta) {
  const int64_t cols = node.fan_out;
  if (train) {
    cpu::batch_norm_backward(dy, y, node.activation, x, t.batch_mean, t.rstd, t.gamma, rows, cols, dx, dgamma,
                             dbeta);
    return;
  }
  // Inference form: an affine map per feature, then the activation. Column
  // by column, so the reductions accumulate in double without scratch
  // memory (nothing allocates in a step); a rare path (a frozen batch norm
  // with trained nodes below it, or gamma/beta trained on fixed statistics).
  const float epsilon = node.batch_norm.epsilon;
  math::dispatch_activation(node.activation.kind, [&](auto kind) {
    constexpr ActivationKind K = decltype(kind)::value;
    const float alpha = node.activation.alpha;
    for (int64_t c = 0; c < cols; ++c) {
      const float rstd = math::batch_norm_inv(t.moving_variance[c], epsilon, 1.0f);
      const float inv = math::batch_norm_inv(t.moving_variance[c], epsilon, t.gamma ? t.gamma[c] : 1.0f);
      double sum_g = 0.0, sum_g_xhat = 0.0;
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t i = r * cols + c;
        const float g = math::activation_grad<K>(dy[i], y[i], alpha);
        sum_g_xhat += static_cast<double>(g) * static_cast<double>((x[i] - t.moving_mean[c]) * rstd);
        sum_g += g;
        if (dx) dx[i] = g * inv;
      }
      if (dgamma) dgamma[c] = static_cast<float>(sum_g_xhat);
      if (dbeta) dbeta[c] = static_cast<float>(sum_g);
    }
  });
}

void dropout_forward(const float* x, float* y, int64_t rows, const NodeShape& node, bool train, uint64_t seed,
                     uint64_t step, uint32_t node_index) {
  if (train) {
    cpu::dropout_forward(x, rows, node.fan_out, node.rate, seed, step, node_index, y);
  } else if (x != y) {
    std::copy(x, x + rows * node.fan_out, y);
  }
}

void dropout_backward(const float* dy, float* dx, int64_t rows, const NodeShape& node, bool train, uint64_t seed,
                      uint64_t step, uint32_t node_index) {
  if (train) {
    cpu::dropout_backward(dy, rows, node.fan_out, node.rate, seed, step, node_index, dx);
  } else if (dx != dy) {
    std::copy(dy, dy + rows * node.fan_out, dx);
  }
}

}  // namespace graft::cpu
