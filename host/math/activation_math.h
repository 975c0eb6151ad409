#pragma once
// The one copy of the activations (host/model/activation.h: TensorFlow's
// definitions) and their derivatives, for the CPU backend, the CUDA kernels
// and the fused program. The derivatives are functions of the activation's
// *output* y, as in TF's ReluGrad/EluGrad/SeluGrad/TanhGrad/SigmoidGrad.
//
// The operation order of each expression is part of the contract: the CPU
// results are bit-exact across releases, and the CUDA build (-fmad=false)
// rounds the same way, up to expf/tanhf, which differ from glibc by at most
// a couple of ulps.
#include <math.h>

#include "host/math/hd.h"
#include "host/model/activation.h"

namespace graft::math {

// act(x); alpha is leaky_relu's slope (ignored by the others). A template
// over the kind so that callers can dispatch once per loop, not per element.
template <ActivationKind K>
GRAFT_HD inline float activation(float x, float alpha) {
  if constexpr (K == ActivationKind::kIdentity) {
    return x;
  } else if constexpr (K == ActivationKind::kRelu) {
    return x > 0.0f ? x : 0.0f;
  } else if constexpr (K == ActivationKind::kElu) {
    return x > 0.0f ? x : expf(x) - 1.0f;
  } else if constexpr (K == ActivationKind::kSelu) {
    // (scale * alpha) is one rounded constant: the CPU reference's order.
    return x > 0.0f ? kSeluScale * x : kSeluScale * kSeluAlpha * (expf(x) - 1.0f);
  } else if constexpr (K == ActivationKind::kLeakyRelu) {
    return x > 0.0f ? x : alpha * x;
  } else if constexpr (K == ActivationKind::kTanh) {
    return tanhf(x);
  } else {
    static_assert(K == ActivationKind::kSigmoid, "an activation without a forward rule");
    return 1.0f / (1.0f + expf(-x));
  }
}

// d loss / d pre-activation from the incoming gradient g and the output y.
template <ActivationKind K>
GRAFT_HD inline float activation_grad(float g, float y, float alpha) {
  if constexpr (K == ActivationKind::kIdentity) {
    return g;
  } else if constexpr (K == ActivationKind::kRelu) {
    return y > 0.0f ? g : 0.0f;
  } else if constexpr (K == ActivationKind::kElu) {
    return y < 0.0f ? g * (y + 1.0f) : g;
  } else if constexpr (K == ActivationKind::kSelu) {
    // For y < 0, d/dx = scale * alpha * exp(x) = y + scale * alpha.
    return y < 0.0f ? g * (y + kSeluScale * kSeluAlpha) : g * kSeluScale;
  } else if constexpr (K == ActivationKind::kLeakyRelu) {
    // TF's LeakyReluGrad tests the input's sign; for alpha >= 0 (enforced by
    // parse_activation) the output has the same sign.
    return y > 0.0f ? g : alpha * g;
  } else if constexpr (K == ActivationKind::kTanh) {
    return g * (1.0f - y * y);
  } else {
    static_assert(K == ActivationKind::kSigmoid, "an activation without a derivative");
    return g * y * (1.0f - y);
  }
}

// The kind as a type, for instantiating a loop or kernel once per kind.
template <ActivationKind K>
struct Kind {
  static constexpr ActivationKind value = K;
};

// f(Kind<K>{}) for k's K, e.g. [&](auto kind) { run<decltype(kind)::value>(); }.
// Host code only (the kernels' launchers and the CPU loops).
template <typename F>
inline auto dispatch_activation(ActivationKind k, F&& f) {
  switch (k) {
    case ActivationKind::kIdentity: return f(Kind<ActivationKind::kIdentity>{});
    case ActivationKind::kRelu: return f(Kind<ActivationKind::kRelu>{});
    case ActivationKind::kElu: return f(Kind<ActivationKind::kElu>{});
    case ActivationKind::kSelu: return f(Kind<ActivationKind::kSelu>{});
    case ActivationKind::kLeakyRelu: return f(Kind<ActivationKind::kLeakyRelu>{});
    case ActivationKind::kTanh: return f(Kind<ActivationKind::kTanh>{});
    case ActivationKind::kSigmoid: return f(Kind<ActivationKind::kSigmoid>{});
  }
  return f(Kind<ActivationKind::kIdentity>{});
}

// The same rules with the kind chosen per call (the fused program, whose
// layers differ in activation within one kernel).
GRAFT_HD inline float activation(ActivationKind k, float x, float alpha) {
  switch (k) {
    case ActivationKind::kIdentity: return activation<ActivationKind::kIdentity>(x, alpha);
    case ActivationKind::kRelu: return activation<ActivationKind::kRelu>(x, alpha);
    case ActivationKind::kElu: return activation<ActivationKind::kElu>(x, alpha);
    case ActivationKind::kSelu: return activation<ActivationKind::kSelu>(x, alpha);
    case ActivationKind::kLeakyRelu: return activation<ActivationKind::kLeakyRelu>(x, alpha);
    case ActivationKind::kTanh: return activation<ActivationKind::kTanh>(x, alpha);
    case ActivationKind::kSigmoid: return activation<ActivationKind::kSigmoid>(x, alpha);
  }
  return x;
}

GRAFT_HD inline float activation_grad(ActivationKind k, float g, float y, float alpha) {
  switch (k) {
    case ActivationKind::kIdentity: return activation_grad<ActivationKind::kIdentity>(g, y, alpha);
    case ActivationKind::kRelu: return activation_grad<ActivationKind::kRelu>(g, y, alpha);
    case ActivationKind::kElu: return activation_grad<ActivationKind::kElu>(g, y, alpha);
    case ActivationKind::kSelu: return activation_grad<ActivationKind::kSelu>(g, y, alpha);
    case ActivationKind::kLeakyRelu: return activation_grad<ActivationKind::kLeakyRelu>(g, y, alpha);
    case ActivationKind::kTanh: return activation_grad<ActivationKind::kTanh>(g, y, alpha);
    case ActivationKind::kSigmoid: return activation_grad<ActivationKind::kSigmoid>(g, y, alpha);
  }
  return g;
}

}  // namespace graft::math
