#pragma once
// The instruction-set builds of batch norm's CPU loops (host/cpu/
// batch_norm_kernels.cc: 0 = baseline x86-64, 1 = AVX2 where compiled), so
// that tests can check that every build this CPU runs gives the same bits;
// the kernels of batch_norm_kernels.h use the widest supported one. Same
// arguments as those kernels, with the variant first; graft::Error when
// !supported(v).
#include <cstdint>

#include "host/model/activation.h"

namespace graft::cpu::batch_norm_variants {

int count();
const char* name(int v);  // "baseline", "avx2"
bool supported(int v);

void forward_train(int v, const float* x, int64_t rows, int64_t cols, const float* gamma, const float* beta,
                   float epsilon, Activation act, float* y, float* batch_mean, float* batch_var, float* rstd);
void forward_infer(int v, const float* x, int64_t rows, int64_t cols, const float* gamma, const float* beta,
                   const float* moving_mean, const float* moving_var, float epsilon, Activation act, float* y);
void backward(int v, const float* dy, const float* y, Activation act, const float* x, const float* batch_mean,
              const float* rstd, const float* gamma, int64_t rows, int64_t cols, float* dx, float* dgamma,
              float* dbeta);

}  // namespace graft::cpu::batch_norm_variants
