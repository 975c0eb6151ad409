#pragma once
// The one copy of the optimizer update rules (TF1's Apply* kernels, written
// out in host/model/optimizer_config.h), for the CPU backend, the CUDA
// update kernel and the fused program: one function per optimizer that
// updates one parameter element w, given its gradient g (already scaled and
// clipped, host/math/clip_math.h) and its slot values.
//
// The operation order of each expression is TF's and part of the contract:
// the CPU results are bit-exact across releases, and the CUDA build
// (-fmad=false) rounds the same way.
#include <math.h>

#include "host/math/hd.h"
#include "host/math/lr_schedule.h"
#include "host/model/optimizer_config.h"

namespace graft::math {

// What the rules read: a plain value a kernel takes as an argument.
// OptimizerConfig also holds host-side choices (clip_norm, slot initial
// values) that no rule needs per element.
struct OptimizerHyper {
  OptimizerKind kind = OptimizerKind::kSgd;
  float lr = 0.0f;
  float momentum = 0.0f;      // momentum, nesterov
  float rho = 0.0f;           // rmsprop
  float rms_momentum = 0.0f;
  float rms_epsilon = 0.0f;
  float beta1 = 0.0f;         // adam
  float beta2 = 0.0f;
  float adam_epsilon = 0.0f;
  float clip_value = 0.0f;    // <= 0: no clipping by value
  LrSchedule schedule;        // lr of a step = scheduled_lr(schedule, lr, step) (host/math/lr_schedule.h)
};

inline OptimizerHyper optimizer_hyper(const OptimizerConfig& c) {
  OptimizerHyper h;
  h.kind = c.kind;
  h.lr = c.learning_rate;
  h.momentum = c.momentum;
  h.rho = c.rho;
  h.rms_momentum = c.rmsprop_momentum;
  h.rms_epsilon = c.rmsprop_epsilon;
  h.beta1 = c.beta1;
  h.beta2 = c.beta2;
  h.adam_epsilon = c.adam_epsilon;
  h.clip_value = c.clip_value;
  h.schedule = c.schedule;
  return h;
}

// The hyper-parameters of the update that follows `step` updates: the
// learning rate `lr` (the backend's current one) through the schedule.
GRAFT_HD inline OptimizerHyper step_hyper(OptimizerHyper h, float lr, int64_t step) {
  h.lr = scheduled_lr(h.schedule, lr, step);
  return h;
}

// --- The rules, one element each.

GRAFT_HD inline void sgd_update(const OptimizerHyper& h, float g, float& w) { w = w - h.lr * g; }

GRAFT_HD inline void momentum_update(const OptimizerHyper& h, float g, float& w, float& accum) {
  const float a = accum * h.momentum + g;
  accum = a;
  w = w - a * h.lr;
}

GRAFT_HD inline void nesterov_update(const OptimizerHyper& h, float g, float& w, float& accum) {
  const float a = accum * h.momentum + g;
  accum = a;
  w = w - (g * h.lr + a * h.momentum * h.lr);
}

GRAFT_HD inline void adagrad_update(const OptimizerHyper& h, float g, float& w, float& accum) {
  const float a = accum + g * g;
  accum = a;
  w = w - h.lr * g / sqrtf(a);
}

GRAFT_HD inline void rmsprop_update(const OptimizerHyper& h, float g, float& w, float& ms,
                                    float& mom) {
  // TF's ApplyRMSProp form of ms = rho*ms + (1-rho)*g*g.
  const float ms0 = ms;
  const float ms1 = ms0 + (g * g - ms0) * (1.0f - h.rho);
  const float mom1 = mom * h.rms_momentum + h.lr * g / sqrtf(ms1 + h.rms_epsilon);
  ms = ms1;
  mom = mom1;
  w = w - mom1;
}

// Adam's step size lr * sqrt(1 - b2^t) / (1 - b1^t), from the beta powers
// before this step's advance; the same for every element of a step.
GRAFT_HD inline float adam_lr_t(const OptimizerHyper& h, float beta1_power, float beta2_power) {
  return h.lr * sqrtf(1.0f - beta2_power) / (1.0f - beta1_power);
}

GRAFT_HD inline void adam_update(const OptimizerHyper& h, float lr_t, float g, float& w, float& m,
                                 float& v) {
  // TF's ApplyAdam form of m = b1*m + (1-b1)*g and v = b2*v + (1-b2)*g*g.
  const float m0 = m;
  const float v0 = v;
  const float m1 = m0 + (g - m0) * (1.0f - h.beta1);
  const float v1 = v0 + (g * g - v0) * (1.0f - h.beta2);
  m = m1;
  v = v1;
  w = w - (m1 * lr_t) / (sqrtf(v1) + h.adam_epsilon);
}

// After each step (adam): b1^t, b2^t -> b1^(t+1), b2^(t+1).
GRAFT_HD inline void advance_beta_powers(const OptimizerHyper& h, float& beta1_power,
                                         float& beta2_power) {
  beta1_power = beta1_power * h.beta1;
  beta2_power = beta2_power * h.beta2;
}

// --- Element i of flat tensors w, s0, s1 (slots in the parameters' layout);
// only the slots rule K uses are touched, so the others may be null. lr_t:
// adam_lr_t for adam, ignored by the others.

template <OptimizerKind K>
GRAFT_HD inline void update_element(const OptimizerHyper& h, float lr_t, float g, float* w,
                                    float* s0, float* s1, int64_t i) {
  if constexpr (K == OptimizerKind::kSgd) {
    sgd_update(h, g, w[i]);
  } else if constexpr (K == OptimizerKind::kMomentum) {
    momentum_update(h, g, w[i], s0[i]);
  } else if constexpr (K == OptimizerKind::kNesterov) {
    nesterov_update(h, g, w[i], s0[i]);
  } else if constexpr (K == OptimizerKind::kAdagrad) {
    adagrad_update(h, g, w[i], s0[i]);
  } else if constexpr (K == OptimizerKind::kRmsProp) {
    rmsprop_update(h, g, w[i], s0[i], s1[i]);
  } else {
    static_assert(K == OptimizerKind::kAdam, "an optimizer without an update rule");
    adam_update(h, lr_t, g, w[i], s0[i], s1[i]);
  }
}

// The same with the rule chosen by h.kind per call (the fused program).
GRAFT_HD inline void update_element(const OptimizerHyper& h, float lr_t, float g, float* w,
                                    float* s0, float* s1, int64_t i) {
  switch (h.kind) {
    case OptimizerKind::kSgd: return update_element<OptimizerKind::kSgd>(h, lr_t, g, w, s0, s1, i);
    case OptimizerKind::kMomentum: return update_element<OptimizerKind::kMomentum>(h, lr_t, g, w, s0, s1, i);
    case OptimizerKind::kNesterov: return update_element<OptimizerKind::kNesterov>(h, lr_t, g, w, s0, s1, i);
    case OptimizerKind::kAdagrad: return update_element<OptimizerKind::kAdagrad>(h, lr_t, g, w, s0, s1, i);
    case OptimizerKind::kRmsProp: return update_element<OptimizerKind::kRmsProp>(h, lr_t, g, w, s0, s1, i);
    case OptimizerKind::kAdam: return update_element<OptimizerKind::kAdam>(h, lr_t, g, w, s0, s1, i);
  }
}

// The kind as a type, for instantiating a loop or kernel once per rule.
template <OptimizerKind K>
struct Rule {
  static constexpr OptimizerKind value = K;
};

// f(Rule<K>{}) for kind's K. Host code only (launchers, the CPU loops).
template <typename F>
inline auto dispatch_optimizer(OptimizerKind kind, F&& f) {
  switch (kind) {
    case OptimizerKind::kSgd: return f(Rule<OptimizerKind::kSgd>{});
    case OptimizerKind::kMomentum: return f(Rule<OptimizerKind::kMomentum>{});
    case OptimizerKind::kNesterov: return f(Rule<OptimizerKind::kNesterov>{});
    case OptimizerKind::kAdagrad: return f(Rule<OptimizerKind::kAdagrad>{});
    case OptimizerKind::kRmsProp: return f(Rule<OptimizerKind::kRmsProp>{});
    case OptimizerKind::kAdam: return f(Rule<OptimizerKind::kAdam>{});
  }
  return f(Rule<OptimizerKind::kSgd>{});
}

}  // namespace graft::math
