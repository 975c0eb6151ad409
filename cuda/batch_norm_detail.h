#pragma once
// Kernels shared by batch norm's two paths (cuda/batch_norm.cu,
// cuda/batch_norm_cudnn.cc); not part of the backend's interface.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "host/model/activation.h"

namespace graft::cuda::detail {

// y = act(y) in place, n elements.
void activation_in_place(float* y, int64_t n, Activation act, cudaStream_t stream);
// g = act'(dy, y) (the derivative from the output y), n elements.
void activation_grad(const float* dy, const float* y, float* g, int64_t n, Activation act, cudaStream_t stream);
// out[c] = in[c] * factor, n elements.
void scale(const float* in, float factor, float* out, int64_t n, cudaStream_t stream);

}  // namespace graft::cuda::detail
