#pragma once
// Device reductions: the global gradient norm for clip-by-global-norm.
// CPU twin: graft::cpu::sum_of_squares (summed over tensors by the backend).
#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/device_state.h"
#include "cuda/optimizer_update.h"

namespace graft::cuda {

// Sum of squares (in double) of the gradient chunks, then
// state->grad_sumsq = total and state->norm_scale = N / max(N, sqrt(total))
// with N = clip_norm (NaN when the norm is not finite). Deterministic: one partial per chunk (block), the last
// block adds them in chunk order. partials: [num_chunks] doubles.
void global_norm_scale(const float* g, const UpdateChunk* chunks, int num_chunks, float clip_norm,
                       double* partials, DeviceState* state, cudaStream_t stream);

}  // namespace graft::cuda
