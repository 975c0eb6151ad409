#pragma once
// The instruction-set builds of the element-wise kernels of
// host/cpu/reference_kernels.h (bias + activation, its backward with the
// bias gradient, the optimizer update): 0 = baseline x86-64, 1 = AVX2 where
// compiled. The public kernels use the widest one this CPU supports; tests
// use these to check that every build gives the baseline's bits. Same
// arguments as those kernels, with the variant first; graft::Error when
// !supported(v).
#include <cstdint>

#include "host/model/activation.h"
#include "host/model/optimizer_config.h"

namespace graft::cpu::elementwise_variants {

int count();
const char* name(int v);  // "baseline", "avx2"
bool supported(int v);
// The variant the public kernels run on this CPU.
int chosen();

void bias_activation_forward(int v, float* y, const float* bias, int64_t rows, int64_t cols, const Activation& act);
void activation_backward_bias_grad(int v, float* grad, const float* y, float* bias_grad, int64_t rows, int64_t cols,
                                   const Activation& act);
void optimizer_update(int v, const OptimizerConfig& config, const OptimizerScalars& scalars, float* w, const float* g,
                      float* slot0, float* slot1, int64_t n, float grad_scale);

}  // namespace graft::cpu::elementwise_variants
