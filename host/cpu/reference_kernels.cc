// The CPU twins of the CUDA kernels. Each activation is dispatched once per
// call (a template over a small functor) so the inner loops are branch-light
// and vectorise; every function makes a single pass over its data.
#include "host/cpu/reference_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace graft::cpu {
namespace {

// Forward activations, TF's definitions (host/model/activation.h).
struct Identity {
  float operator()(float x) const { return x; }
  float grad(float, float g) const { return g; }
};
struct Relu {
  float operator()(float x) const { return x > 0.0f ? x : 0.0f; }
  float grad(float y, float g) const { return y > 0.0f ? g : 0.0f; }  // ReluGrad
};
struct Elu {
  float operator()(float x) const { return x > 0.0f ? x : std::exp(x) - 1.0f; }
  float grad(float y, float g) const { return y < 0.0f ? g * (y + 1.0f) : g; }  // EluGrad
};
struct Selu {
  float operator()(float x) const {
    return x > 0.0f ? kSeluScale * x : kSeluScale * kSeluAlpha * (std::exp(x) - 1.0f);
  }
  // SeluGrad: for y < 0, d/dx = scale*alpha*exp(x) = y + scale*alpha.
  float grad(float y, float g) const {
    return y < 0.0f ? g * (y + kSeluScale * kSeluAlpha) : g * kSeluScale;
  }
};
struct LeakyRelu {
  float alpha;
  float operator()(float x) const { return x > 0.0f ? x : alpha * x; }
  // TF's LeakyReluGrad tests the input's sign; for alpha >= 0 (enforced by
  // parse_activation) the output has the same sign.
  float grad(float y, float g) const { return y > 0.0f ? g : alpha * g; }
};
struct Tanh {
  float operator()(float x) const { return std::tanh(x); }
  float grad(float y, float g) const { return g * (1.0f - y * y); }  // TanhGrad
};
struct Sigmoid {
  float operator()(float x) const { return 1.0f / (1.0f + std::exp(-x)); }
  float grad(float y, float g) const { return g * y * (1.0f - y); }  // SigmoidGrad
};

template <typename F>
auto dispatch(const Activation& act, F&& f) {
  switch (act.kind) {
    case ActivationKind::kIdentity: return f(Identity{});
    case ActivationKind::kRelu: return f(Relu{});
    case ActivationKind::kElu: return f(Elu{});
    case ActivationKind::kSelu: return f(Selu{});
    case ActivationKind::kLeakyRelu: return f(LeakyRelu{act.alpha});
    case ActivationKind::kTanh: return f(Tanh{});
    case ActivationKind::kSigmoid: return f(Sigmoid{});
  }
  return f(Identity{});
}

}  // namespace

void bias_activation_forward(float* y, const float* bias, int64_t rows, int64_t cols,
                             const Activation& act) {
  dispatch(act, [&](auto fn) {
    for (int64_t r = 0; r < rows; ++r) {
      float* __restrict row = y + r * cols;
      const float* __restrict b = bias;
      for (int64_t c = 0; c < cols; ++c) row[c] = fn(row[c] + b[c]);
    }
    return 0;
  });
}

void activation_backward_bias_grad(float* grad, const float* y, float* bias_grad, int64_t rows,
                                   int64_t cols, const Activation& act) {
  std::fill(bias_grad, bias_grad + cols, 0.0f);
  dispatch(act, [&](auto fn) {
    for (int64_t r = 0; r < rows; ++r) {
      float* __restrict g = grad + r * cols;
      const float* __restrict out = y + r * cols;
      float* __restrict bg = bias_grad;
      for (int64_t c = 0; c < cols; ++c) {
        const float d = fn.grad(out[c], g[c]);
        g[c] = d;
        bg[c] += d;
      }
    }
    return 0;
  });
}

void softmax_xent(const float* logits, const int32_t* labels, float* dlogits, int64_t rows,
                  int64_t classes, float grad_scale, double* loss_sum, int64_t* correct) {
  double loss_total = 0.0;
  int64_t hits = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* l = logits + r * classes;
    const int32_t label = labels[r];
    const bool label_ok = label >= 0 && label < classes;
    float m = l[0];
    bool finite = true;
    for (int64_t c = 0; c < classes; ++c) {
      m = std::max(m, l[c]);
      finite = finite && std::isfinite(l[c]);
    }
    float sum = 0.0f;
    for (int64_t c = 0; c < classes; ++c) sum += std::exp(l[c] - m);
    const float log_sum = std::log(sum);
    // loss = log(sum exp(l - m)) - (l[label] - m): never overflows.
    loss_total += label_ok ? static_cast<double>(log_sum - (l[label] - m))
                           : std::numeric_limits<double>::infinity();
    if (label_ok && finite) {
      bool hit = true;
      for (int64_t c = 0; c < classes; ++c) hit = hit && !(l[c] > l[label]);
      hits += hit ? 1 : 0;
    }
    if (dlogits) {
      float* d = dlogits + r * classes;
      const float inv = 1.0f / sum;
      for (int64_t c = 0; c < classes; ++c) {
        const float p = std::exp(l[c] - m) * inv;
        d[c] = (p - (c == label ? 1.0f : 0.0f)) * grad_scale;
      }
    }
  }
  *loss_sum += loss_total;
  *correct += hits;
}

double sum_of_squares(const float* g, int64_t n) {
  // Eight independent float lanes (a reduction the compiler vectorises without
  // -ffast-math), folded into a double every block so long tensors lose no
  // precision.
  double total = 0.0;
  constexpr int64_t kBlock = 1024;
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t end = std::min(n, start + kBlock);
    float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = start;
    for (; i + 8 <= end; i += 8) {
      for (int k = 0; k < 8; ++k) lane[k] += g[i + k] * g[i + k];
    }
    for (; i < end; ++i) lane[0] += g[i] * g[i];
    for (float v : lane) total += v;
  }
  return total;
}

namespace {

// Clipping applied to each gradient element before the rule.
struct Clip {
  float scale, limit;  // limit <= 0: no clipping by value
  float operator()(float g) const {
    g *= scale;
    return limit > 0.0f ? std::min(std::max(g, -limit), limit) : g;
  }
};

}  // namespace

void optimizer_update(const OptimizerConfig& config, const OptimizerScalars& scalars, float* w,
                      const float* g, float* slot0, float* slot1, int64_t n, float grad_scale) {
  const Clip clip{grad_scale, config.clip_value};
  const float lr = config.learning_rate;
  switch (config.kind) {
    case OptimizerKind::kSgd:
      for (int64_t i = 0; i < n; ++i) w[i] -= lr * clip(g[i]);
      break;
    case OptimizerKind::kMomentum: {
      const float m = config.momentum;
      for (int64_t i = 0; i < n; ++i) {
        const float a = slot0[i] * m + clip(g[i]);
        slot0[i] = a;
        w[i] -= a * lr;
      }
      break;
    }
    case OptimizerKind::kNesterov: {
      const float m = config.momentum;
      for (int64_t i = 0; i < n; ++i) {
        const float gi = clip(g[i]);
        const float a = slot0[i] * m + gi;
        slot0[i] = a;
        w[i] -= gi * lr + a * m * lr;
      }
      break;
    }
    case OptimizerKind::kAdagrad:
      for (int64_t i = 0; i < n; ++i) {
        const float gi = clip(g[i]);
        const float a = slot0[i] + gi * gi;
        slot0[i] = a;
        w[i] -= lr * gi / std::sqrt(a);
      }
      break;
    case OptimizerKind::kRmsProp: {
      const float rho = config.rho, mu = config.rmsprop_momentum, eps = config.rmsprop_epsilon;
      for (int64_t i = 0; i < n; ++i) {
        const float gi = clip(g[i]);
        // TF's ApplyRMSProp form of ms = rho*ms + (1-rho)*g*g.
        const float ms = slot0[i] + (gi * gi - slot0[i]) * (1.0f - rho);
        const float mom = slot1[i] * mu + lr * gi / std::sqrt(ms + eps);
        slot0[i] = ms;
        slot1[i] = mom;
        w[i] -= mom;
      }
      break;
    }
    case OptimizerKind::kAdam: {
      const float b1 = config.beta1, b2 = config.beta2, eps = config.adam_epsilon;
      const float lr_t = lr * std::sqrt(1.0f - scalars.beta2_power) / (1.0f - scalars.beta1_power);
      for (int64_t i = 0; i < n; ++i) {
        const float gi = clip(g[i]);
        // TF's ApplyAdam form of m = b1*m + (1-b1)*g and v = b2*v + (1-b2)*g*g.
        const float m = slot0[i] + (gi - slot0[i]) * (1.0f - b1);
        const float v = slot1[i] + (gi * gi - slot1[i]) * (1.0f - b2);
        slot0[i] = m;
        slot1[i] = v;
        w[i] -= (m * lr_t) / (std::sqrt(v) + eps);
      }
      break;
    }
  }
}

void gather_rows(const float* src, const uint32_t* index, float* out, int64_t n, int64_t cols) {
  const std::size_t row_bytes = static_cast<std::size_t>(cols) * sizeof(float);
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(out + i * cols, src + static_cast<int64_t>(index[i]) * cols, row_bytes);
  }
}

}  // namespace graft::cpu
