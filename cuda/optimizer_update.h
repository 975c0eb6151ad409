#pragma once
// The fused optimizer step: gradient scaling (clip-by-global-norm), clipping
// by value and the TF1 update rule of every optimizer, over all trainable
// parameter tensors in ONE launch. CPU twin: graft::cpu::optimizer_update.
//
// Parameters, gradients and slots live in flat buffers with one layout
// (tensor t at the same element offset in each), so a tensor is an
// (offset, count) range and the whole update is driven by a small device
// table of chunks: block b updates chunk b.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "cuda/device_state.h"
#include "host/model/optimizer_config.h"

namespace graft::cuda {

struct UpdateChunk {
  int64_t offset;  // first element (same in w, g, slot0, slot1)
  int64_t count;   // <= kUpdateChunkElems
};
constexpr int64_t kUpdateChunkElems = 4096;

// Splits (offset, count) ranges into chunks of at most kUpdateChunkElems.
std::vector<UpdateChunk> make_update_chunks(const std::vector<std::pair<int64_t, int64_t>>& ranges);

// One update of every chunk, in the CPU twin's operation order. grad_scale: a device float read by every block
// (the clip-by-global-norm factor), or null for 1. Scalars (step, adam's
// beta powers) are read from *state before the update; the last block to
// finish advances them (step += 1; adam: beta powers *= beta), so a replayed
// graph needs no host involvement. The learning rate is state->learning_rate
// (config.learning_rate is not used), so it can change between replays. slot0/slot1 may be null when the
// optimizer has fewer slots. With num_chunks == 0 only the scalars advance
// (a step with every parameter frozen still counts, as on the CPU).
void optimizer_update(const OptimizerConfig& config, float* w, const float* g, float* slot0,
                      float* slot1, const UpdateChunk* chunks, int num_chunks,
                      const float* grad_scale, DeviceState* state, cudaStream_t stream);
// Just the scalar advance (one thread).
void optimizer_advance_scalars(const OptimizerConfig& config, DeviceState* state,
                               cudaStream_t stream);

}  // namespace graft::cuda
