#pragma once
// Inverted dropout (tf.nn.dropout in training) with masks from
// host/math/counter_rng.h: element (r, c) is kept when
// counter_uniform(seed, *step, node, r, c) < 1 - rate, and scaled by
// 1.0f / (1 - rate). CPU twins: host/cpu/dropout_kernels.h, bit-identical
// (the same integer arithmetic and one float multiply per element).
//
// `step` points to device memory (e.g. the backend's DeviceState): the
// kernel reads it when it runs, so a captured CUDA graph replays with the
// step of each replay and draws a new mask each time, with no mask stored.
// rate in [0, 1) (else graft::Error); rate 0 is a copy (none when y == x).
#include <cuda_runtime_api.h>

#include <cstdint>

namespace graft::cuda {

// y = x * mask * inv_keep; y may alias x.
void dropout_forward(const float* x, int64_t rows, int64_t cols, float rate, uint64_t seed,
                     const uint64_t* step, uint32_t node, float* y, cudaStream_t stream);

// dx = dy * mask * inv_keep, the forward's mask recomputed; dx may alias dy.
void dropout_backward(const float* dy, int64_t rows, int64_t cols, float rate, uint64_t seed,
                      const uint64_t* step, uint32_t node, float* dx, cudaStream_t stream);

}  // namespace graft::cuda
