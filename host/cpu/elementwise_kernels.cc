// The element-wise CPU twins of the CUDA kernels (declared in
// host/cpu/reference_kernels.h): bias + activation, its backward with the
// bias gradient, and the fused optimizer update, on the scalar math of
// host/math/. Each activation and optimizer is dispatched once per call (a
// template over the kind), so the inner loops are branch-light and vectorise.
//
// Instruction sets, as in batch_norm_kernels.cc: the loops are compiled for
// baseline x86-64 (SSE2, 4 floats) and for AVX2 (8 floats), and the AVX2
// build runs where the CPU and OS support it (host/cpu/cpu_features.h),
// chosen once. AVX2 without FMA: the compiler may not contract a * b + c
// into one rounding (AVX-512F would bring FMA with it, hence no AVX-512
// build), so both builds do the same operations in the same order and give
// the same bits (tested). This file is compiled with -fno-math-errno and
// -fno-trapping-math (host/CMakeLists.txt): sqrtf then becomes the
// (v)sqrtps instruction, which rounds correctly as sqrtf does, so adagrad's,
// rmsprop's and adam's updates vectorise (with errno GCC keeps a scalar call
// per element), and so do the selects of elu's, selu's and leaky relu's
// derivatives (with trapping math GCC keeps a branch per element: elu's
// backward of 50 x 300 took 117 us, now 5).
#include <algorithm>
#include <string>

#include "checkpoint/error.h"
#include "host/cpu/cpu_features.h"
#include "host/cpu/elementwise_variants.h"
#include "host/cpu/isa_builds.h"
#include "host/cpu/reference_kernels.h"
#include "host/math/activation_math.h"
#include "host/math/clip_math.h"
#include "host/math/optimizer_math.h"

namespace graft::cpu {
namespace {

template <ActivationKind K>
GRAFT_ISA_INLINE void bias_activation_loop(float* y, const float* bias, int64_t rows, int64_t cols, float alpha) {
  for (int64_t r = 0; r < rows; ++r) {
    float* __restrict row = y + r * cols;
    const float* __restrict b = bias;
    for (int64_t c = 0; c < cols; ++c) row[c] = math::activation<K>(row[c] + b[c], alpha);
  }
}

template <ActivationKind K>
GRAFT_ISA_INLINE void activation_backward_loop(float* grad, const float* y, float* bias_grad, int64_t rows,
                                              int64_t cols, float alpha) {
  std::fill(bias_grad, bias_grad + cols, 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    float* __restrict g = grad + r * cols;
    const float* __restrict out = y + r * cols;
    float* __restrict bg = bias_grad;
    for (int64_t c = 0; c < cols; ++c) {
      const float d = math::activation_grad<K>(g[c], out[c], alpha);
      g[c] = d;
      bg[c] += d;
    }
  }
}

// h is the caller's copy: a local whose address the loop's stores cannot
// reach, so its fields stay in registers.
template <OptimizerKind K>
GRAFT_ISA_INLINE void update_loop(const math::OptimizerHyper h, float lr_t, float* w, const float* g, float* s0,
                                 float* s1, int64_t n, float grad_scale) {
  for (int64_t i = 0; i < n; ++i) {
    math::update_element<K>(h, lr_t, math::clip_gradient(g[i], grad_scale, h.clip_value), w, s0, s1, i);
  }
}

struct Loops {
  void (*bias_activation)(ActivationKind kind, float* y, const float* bias, int64_t rows, int64_t cols, float alpha);
  void (*activation_backward)(ActivationKind kind, float* grad, const float* y, float* bias_grad, int64_t rows,
                              int64_t cols, float alpha);
  void (*update)(const math::OptimizerHyper& h, float lr_t, float* w, const float* g, float* s0, float* s1,
                 int64_t n, float grad_scale);
};

#define GRAFT_EW_BIAS_ACT(K) bias_activation_loop<K>(y, bias, rows, cols, alpha)
#define GRAFT_EW_ACT_BACKWARD(K) activation_backward_loop<K>(grad, y, bias_grad, rows, cols, alpha)
#define GRAFT_EW_UPDATE(K) update_loop<K>(local, lr_t, w, g, s0, s1, n, grad_scale)

// GRAFT_EW_ENTRY_POINTS(prefix, attribute): one instruction set's entry
// points, each inlining the loops above.
#define GRAFT_EW_ENTRY_POINTS(P, TARGET)                                                                         \
  TARGET void P##_bias_activation(ActivationKind kind, float* y, const float* bias, int64_t rows, int64_t cols,  \
                                  float alpha) {                                                                 \
    GRAFT_ACTIVATION_SWITCH(kind, GRAFT_EW_BIAS_ACT)                                                          \
  }                                                                                                              \
  TARGET void P##_activation_backward(ActivationKind kind, float* grad, const float* y, float* bias_grad,        \
                                      int64_t rows, int64_t cols, float alpha) {                                 \
    GRAFT_ACTIVATION_SWITCH(kind, GRAFT_EW_ACT_BACKWARD)                                                      \
  }                                                                                                              \
  TARGET void P##_update(const math::OptimizerHyper& h, float lr_t, float* w, const float* g, float* s0,         \
                         float* s1, int64_t n, float grad_scale) {                                               \
    const math::OptimizerHyper local = h;                                                                        \
    GRAFT_OPTIMIZER_SWITCH(local.kind, GRAFT_EW_UPDATE)                                                       \
  }                                                                                                              \
  constexpr Loops P##_loops = {P##_bias_activation, P##_activation_backward, P##_update};

GRAFT_EW_ENTRY_POINTS(baseline, )
#ifdef GRAFT_ISA_AVX2
GRAFT_EW_ENTRY_POINTS(avx2, __attribute__((target("avx2"))))
#endif

const Loops* variant_loops(int v) {
  if (v == 0) return &baseline_loops;
#ifdef GRAFT_ISA_AVX2
  if (v == 1 && host_cpu_features().avx2) return &avx2_loops;
#endif
  return nullptr;
}

int widest_variant() {
  static const int v = variant_loops(1) ? 1 : 0;
  return v;
}

const Loops& loops_for(int v) {
  const Loops* l = variant_loops(v);
  if (!l) throw Error("element-wise kernel variant " + std::to_string(v) + " is not supported on this CPU");
  return *l;
}

void bias_activation(const Loops& l, float* y, const float* bias, int64_t rows, int64_t cols, const Activation& act) {
  l.bias_activation(act.kind, y, bias, rows, cols, act.alpha);
}

void activation_backward(const Loops& l, float* grad, const float* y, float* bias_grad, int64_t rows, int64_t cols,
                         const Activation& act) {
  l.activation_backward(act.kind, grad, y, bias_grad, rows, cols, act.alpha);
}

void update(const Loops& l, const OptimizerConfig& config, const OptimizerScalars& scalars, float* w, const float* g,
            float* slot0, float* slot1, int64_t n, float grad_scale) {
  // This step's learning rate: the schedule's value at the global step.
  const math::OptimizerHyper h =
      math::step_hyper(math::optimizer_hyper(config), config.learning_rate, scalars.step);
  const float lr_t = config.kind == OptimizerKind::kAdam
                         ? math::adam_lr_t(h, scalars.beta1_power, scalars.beta2_power)
                         : 0.0f;
  l.update(h, lr_t, w, g, slot0, slot1, n, grad_scale);
}

}  // namespace

void bias_activation_forward(float* y, const float* bias, int64_t rows, int64_t cols, const Activation& act) {
  bias_activation(*variant_loops(widest_variant()), y, bias, rows, cols, act);
}

void activation_backward_bias_grad(float* grad, const float* y, float* bias_grad, int64_t rows, int64_t cols,
                                   const Activation& act) {
  activation_backward(*variant_loops(widest_variant()), grad, y, bias_grad, rows, cols, act);
}

void optimizer_update(const OptimizerConfig& config, const OptimizerScalars& scalars, float* w, const float* g,
                      float* slot0, float* slot1, int64_t n, float grad_scale) {
  update(*variant_loops(widest_variant()), config, scalars, w, g, slot0, slot1, n, grad_scale);
}

namespace elementwise_variants {

int count() { return isa_build_count(); }
const char* name(int v) { return isa_build_name(v); }
bool supported(int v) { return variant_loops(v) != nullptr; }
int chosen() { return widest_variant(); }

void bias_activation_forward(int v, float* y, const float* bias, int64_t rows, int64_t cols, const Activation& act) {
  bias_activation(loops_for(v), y, bias, rows, cols, act);
}

void activation_backward_bias_grad(int v, float* grad, const float* y, float* bias_grad, int64_t rows, int64_t cols,
                                   const Activation& act) {
  activation_backward(loops_for(v), grad, y, bias_grad, rows, cols, act);
}

void optimizer_update(int v, const OptimizerConfig& config, const OptimizerScalars& scalars, float* w, const float* g,
                      float* slot0, float* slot1, int64_t n, float grad_scale) {
  update(loops_for(v), config, scalars, w, g, slot0, slot1, n, grad_scale);
}

}  // namespace elementwise_variants
}  // namespace graft::cpu
