// Batch normalization's CPU kernels. Each activation is dispatched once per
// call (a template over the kind); the loops run over rows, then over the
// columns of a row, so the per-column accumulators vectorise and every
// column's sum is taken in row order (one thread: the result is the same
// whatever the backend's thread count).
#include "host/cpu/batch_norm_kernels.h"

#include <cmath>
#include <vector>

#include "checkpoint/error.h"
#include "host/math/activation_math.h"
#include "host/math/batch_norm_math.h"

namespace graft::cpu {
namespace {

// y = act(x * inv[c] + shift[c]) for every element.
template <ActivationKind K>
void normalise(const float* x, int64_t rows, int64_t cols, const float* inv, const float* shift,
               float alpha, float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      yr[c] = math::activation<K>(math::batch_norm_apply(xr[c], inv[c], shift[c]), alpha);
    }
  }
}

void normalise(const float* x, int64_t rows, int64_t cols, const float* inv, const float* shift,
               const Activation& act, float* y) {
  math::dispatch_activation(act.kind, [&](auto kind) {
    normalise<decltype(kind)::value>(x, rows, cols, inv, shift, act.alpha, y);
    return 0;
  });
}

// inv[c], shift[c] from per-feature statistics (variance, not rstd).
void scale_and_shift(const float* mean, const float* variance, const float* gamma,
                     const float* beta, int64_t cols, float epsilon, float* inv, float* shift) {
  for (int64_t c = 0; c < cols; ++c) {
    inv[c] = math::batch_norm_inv(variance[c], epsilon, gamma ? gamma[c] : 1.0f);
    shift[c] = math::batch_norm_shift(mean[c], inv[c], beta ? beta[c] : 0.0f);
  }
}

// Pass 1 of the backward: g = act'(dy, y) (stored in dx when kStore), and the
// two reductions sum g and sum g * xhat in double, in row order.
template <ActivationKind K, bool kStore>
void backward_reductions(const float* dy, const float* y, float alpha, const float* x,
                         const float* mean, const float* rstd, int64_t rows, int64_t cols,
                         float* g_out, double* sum_g, double* sum_g_xhat) {
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      const float g = math::activation_grad<K>(dy[o + c], y[o + c], alpha);
      if constexpr (kStore) g_out[o + c] = g;
      const float xhat = (x[o + c] - mean[c]) * rstd[c];
      sum_g[c] += static_cast<double>(g);
      sum_g_xhat[c] += static_cast<double>(g) * static_cast<double>(xhat);
    }
  }
}

}  // namespace

void batch_norm_forward_train(const float* x, int64_t rows, int64_t cols, const float* gamma,
                              const float* beta, float epsilon, Activation act, float* y,
                              float* batch_mean, float* batch_var, float* rstd) {
  if (rows < 1) throw Error("batch_norm_forward_train: a batch of " + std::to_string(rows) + " rows (pass at least 1)");
  std::vector<double> sum(cols, 0.0), mean(cols);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    for (int64_t c = 0; c < cols; ++c) sum[c] += static_cast<double>(xr[c]);
  }
  const double n = static_cast<double>(rows);
  for (int64_t c = 0; c < cols; ++c) {
    mean[c] = sum[c] / n;
    sum[c] = 0.0;
  }
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      const double d = static_cast<double>(xr[c]) - mean[c];
      sum[c] += d * d;
    }
  }
  std::vector<float> inv(cols), shift(cols);
  for (int64_t c = 0; c < cols; ++c) {
    batch_mean[c] = static_cast<float>(mean[c]);
    batch_var[c] = static_cast<float>(sum[c] / n);
    rstd[c] = 1.0f / sqrtf(batch_var[c] + epsilon);
  }
  scale_and_shift(batch_mean, batch_var, gamma, beta, cols, epsilon, inv.data(), shift.data());
  normalise(x, rows, cols, inv.data(), shift.data(), act, y);
}

void batch_norm_forward_infer(const float* x, int64_t rows, int64_t cols, const float* gamma,
                              const float* beta, const float* moving_mean,
                              const float* moving_var, float epsilon, Activation act, float* y) {
  std::vector<float> inv(cols), shift(cols);
  scale_and_shift(moving_mean, moving_var, gamma, beta, cols, epsilon, inv.data(), shift.data());
  normalise(x, rows, cols, inv.data(), shift.data(), act, y);
}

void batch_norm_update_moving(float* moving_mean, float* moving_var, const float* batch_mean,
                              const float* batch_var, int64_t rows, int64_t cols, double momentum,
                              bool bessel_correction) {
  if (bessel_correction && rows < 2) {
    throw Error("batch_norm_update_moving: Bessel's correction needs a batch of at least 2 rows, got " +
                std::to_string(rows));
  }
  // TF computes 1 - momentum on the Python double and converts it to
  // float32 (0.01f for 0.99); 1.0f - 0.99f would be 0.00999999046.
  const float decay = static_cast<float>(1.0 - momentum);
  const float adjust = bessel_correction ? static_cast<float>(rows) / static_cast<float>(rows - 1) : 1.0f;
  for (int64_t c = 0; c < cols; ++c) {
    moving_mean[c] = math::moving_average_update(moving_mean[c], batch_mean[c], decay);
    const float v = bessel_correction ? batch_var[c] * adjust : batch_var[c];
    moving_var[c] = math::moving_average_update(moving_var[c], v, decay);
  }
}

void batch_norm_backward(const float* dy, const float* y, Activation act, const float* x,
                         const float* batch_mean, const float* rstd, const float* gamma,
                         int64_t rows, int64_t cols, float* dx, float* dgamma, float* dbeta) {
  std::vector<double> sum_g(cols, 0.0), sum_g_xhat(cols, 0.0);
  math::dispatch_activation(act.kind, [&](auto kind) {
    constexpr ActivationKind K = decltype(kind)::value;
    if (dx) {
      backward_reductions<K, true>(dy, y, act.alpha, x, batch_mean, rstd, rows, cols, dx, sum_g.data(),
                                   sum_g_xhat.data());
    } else {
      backward_reductions<K, false>(dy, y, act.alpha, x, batch_mean, rstd, rows, cols, nullptr,
                                    sum_g.data(), sum_g_xhat.data());
    }
    return 0;
  });
  std::vector<float> sdy(cols), sdx(cols), k(cols);
  const float n = static_cast<float>(rows);
  for (int64_t c = 0; c < cols; ++c) {
    sdy[c] = static_cast<float>(sum_g[c]);
    sdx[c] = static_cast<float>(sum_g_xhat[c]);
    k[c] = (gamma ? gamma[c] : 1.0f) * rstd[c] / n;
    if (dbeta) dbeta[c] = sdy[c];
    if (dgamma) dgamma[c] = sdx[c];
  }
  if (!dx) return;
  // Pass 2: dx holds g from pass 1.
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      const float xhat = (x[o + c] - batch_mean[c]) * rstd[c];
      dx[o + c] = math::batch_norm_input_grad(dx[o + c], xhat, k[c], n, sdy[c], sdx[c]);
    }
  }
}

}  // namespace graft::cpu
