// Multi-tensor optimizer update: one launch for all trainable tensors. Each
// block takes one chunk of the table; gradient scaling and clipping by value
// happen in registers right before the rule, so gradients are read once and
// parameters/slots are read and written once. The rules and the clipping are
// host/math/'s, the CPU backend's too.
#include "cuda/optimizer_update.h"

#include "checkpoint/error.h"
#include "cuda/cuda_check.h"
#include "host/math/clip_math.h"
#include "host/math/optimizer_math.h"

namespace graft::cuda {
namespace {

constexpr int kThreads = 256;

template <OptimizerKind K>
__global__ void __launch_bounds__(kThreads)
    update_kernel(float* __restrict__ w, const float* __restrict__ g, float* __restrict__ s0,
                  float* __restrict__ s1, const UpdateChunk* __restrict__ chunks,
                  const float* __restrict__ grad_scale, DeviceState* __restrict__ state,
                  math::OptimizerHyper h) {
  __shared__ float s_scale, s_b1p, s_b2p, s_lr;
  __shared__ long long s_step;
  // Thread 0 reads the step's scalars once, before this block is counted as
  // finished below; the last block may then advance them safely.
  if (threadIdx.x == 0) {
    s_scale = grad_scale != nullptr ? *grad_scale : 1.0f;
    s_b1p = state->beta1_power;
    s_b2p = state->beta2_power;
    s_lr = state->learning_rate;
    s_step = state->step;
  }
  __syncthreads();
  // This step's learning rate: the schedule at the device's global step, from
  // the device state's rate (not the captured argument), so neither a
  // schedule nor set_learning_rate needs a re-capture or a host round trip.
  h = math::step_hyper(h, s_lr, s_step);
  const float scale = s_scale;
  float lr_t = 0.0f;
  if constexpr (K == OptimizerKind::kAdam) lr_t = math::adam_lr_t(h, s_b1p, s_b2p);

  const UpdateChunk ch = chunks[blockIdx.x];
  const int64_t end = ch.offset + ch.count;
  for (int64_t i = ch.offset + threadIdx.x; i < end; i += kThreads) {
    math::update_element<K>(h, lr_t, math::clip_gradient(g[i], scale, h.clip_value), w, s0, s1, i);
  }

  if (threadIdx.x == 0) {
    __threadfence();
    const unsigned prev = atomicAdd(&state->update_arrivals, 1u);
    if (prev == gridDim.x - 1) {  // every block has read the scalars: advance them
      __threadfence();
      state->step += 1;
      if constexpr (K == OptimizerKind::kAdam) {
        float b1p = s_b1p, b2p = s_b2p;
        math::advance_beta_powers(h, b1p, b2p);
        state->beta1_power = b1p;
        state->beta2_power = b2p;
      }
      state->update_arrivals = 0;
    }
  }
}

// A step with nothing to update still counts (global_step, adam's powers).
__global__ void advance_scalars_kernel(DeviceState* state, math::OptimizerHyper h) {
  state->step += 1;
  if (h.kind == OptimizerKind::kAdam) math::advance_beta_powers(h, state->beta1_power, state->beta2_power);
}

template <OptimizerKind K>
void launch(float* w, const float* g, float* s0, float* s1, const UpdateChunk* chunks,
            int num_chunks, const float* grad_scale, DeviceState* state, const math::OptimizerHyper& h,
            cudaStream_t stream) {
  update_kernel<K><<<static_cast<unsigned>(num_chunks), kThreads, 0, stream>>>(
      w, g, s0, s1, chunks, grad_scale, state, h);
  GRAFT_CUDA_CHECK_LAUNCH();
}

}  // namespace

std::vector<UpdateChunk> make_update_chunks(const std::vector<std::pair<int64_t, int64_t>>& ranges) {
  std::vector<UpdateChunk> chunks;
  for (const auto& [offset, count] : ranges) {
    for (int64_t done = 0; done < count; done += kUpdateChunkElems) {
      chunks.push_back({offset + done, std::min<int64_t>(kUpdateChunkElems, count - done)});
    }
  }
  return chunks;
}

void optimizer_advance_scalars(const OptimizerConfig& config, DeviceState* state,
                               cudaStream_t stream) {
  advance_scalars_kernel<<<1, 1, 0, stream>>>(state, math::optimizer_hyper(config));
  GRAFT_CUDA_CHECK_LAUNCH();
}

void optimizer_update(const OptimizerConfig& config, float* w, const float* g, float* slot0,
                      float* slot1, const UpdateChunk* chunks, int num_chunks,
                      const float* grad_scale, DeviceState* state, cudaStream_t stream) {
  if (num_chunks <= 0) return optimizer_advance_scalars(config, state, stream);
  const math::OptimizerHyper h = math::optimizer_hyper(config);
  switch (config.kind) {
    case OptimizerKind::kSgd: return launch<OptimizerKind::kSgd>(w, g, slot0, slot1, chunks, num_chunks, grad_scale, state, h, stream);
    case OptimizerKind::kMomentum: return launch<OptimizerKind::kMomentum>(w, g, slot0, slot1, chunks, num_chunks, grad_scale, state, h, stream);
    case OptimizerKind::kNesterov: return launch<OptimizerKind::kNesterov>(w, g, slot0, slot1, chunks, num_chunks, grad_scale, state, h, stream);
    case OptimizerKind::kAdagrad: return launch<OptimizerKind::kAdagrad>(w, g, slot0, slot1, chunks, num_chunks, grad_scale, state, h, stream);
    case OptimizerKind::kRmsProp: return launch<OptimizerKind::kRmsProp>(w, g, slot0, slot1, chunks, num_chunks, grad_scale, state, h, stream);
    case OptimizerKind::kAdam: return launch<OptimizerKind::kAdam>(w, g, slot0, slot1, chunks, num_chunks, grad_scale, state, h, stream);
  }
  throw Error("optimizer_update: unknown optimizer");
}

}  // namespace graft::cuda
