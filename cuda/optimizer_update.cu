// Multi-tensor optimizer update: one launch for all trainable tensors. Each
// block takes one chunk of the table; gradient scaling and clipping by value
// happen in registers right before the rule, so gradients are read once and
// parameters/slots are read and written once.
#include "cuda/optimizer_update.h"

#include "checkpoint/error.h"
#include "cuda/cuda_check.h"

namespace graft::cuda {
namespace {

constexpr int kThreads = 256;

struct Hyper {
  float lr, momentum, rho, rms_momentum, rms_epsilon, beta1, beta2, adam_epsilon, clip_value;
};

template <OptimizerKind K>
__global__ void __launch_bounds__(kThreads)
    update_kernel(float* __restrict__ w, const float* __restrict__ g, float* __restrict__ s0,
                  float* __restrict__ s1, const UpdateChunk* __restrict__ chunks,
                  const float* __restrict__ grad_scale, DeviceState* __restrict__ state, Hyper h) {
  __shared__ float s_scale, s_b1p, s_b2p;
  // Thread 0 reads the step's scalars once, before this block is counted as
  // finished below; the last block may then advance them safely.
  if (threadIdx.x == 0) {
    s_scale = grad_scale != nullptr ? *grad_scale : 1.0f;
    s_b1p = state->beta1_power;
    s_b2p = state->beta2_power;
  }
  __syncthreads();
  const float scale = s_scale;
  const float clip = h.clip_value;
  float lr_t = 0.0f;
  if constexpr (K == OptimizerKind::kAdam) {
    lr_t = h.lr * sqrtf(1.0f - s_b2p) / (1.0f - s_b1p);
  }

  const UpdateChunk ch = chunks[blockIdx.x];
  const int64_t end = ch.offset + ch.count;
  for (int64_t i = ch.offset + threadIdx.x; i < end; i += kThreads) {
    // Same operation order as the CPU twin (TF1's Apply* forms); the clamp
    // is written like std::min/std::max so a NaN gradient stays NaN.
    float gi = g[i] * scale;
    if (clip > 0.0f) {
      gi = gi < -clip ? -clip : gi;
      gi = clip < gi ? clip : gi;
    }
    if constexpr (K == OptimizerKind::kSgd) {
      w[i] = w[i] - h.lr * gi;
    } else if constexpr (K == OptimizerKind::kMomentum) {
      const float a = s0[i] * h.momentum + gi;
      s0[i] = a;
      w[i] = w[i] - a * h.lr;
    } else if constexpr (K == OptimizerKind::kNesterov) {
      const float a = s0[i] * h.momentum + gi;
      s0[i] = a;
      w[i] = w[i] - (gi * h.lr + a * h.momentum * h.lr);
    } else if constexpr (K == OptimizerKind::kAdagrad) {
      const float a = s0[i] + gi * gi;
      s0[i] = a;
      w[i] = w[i] - h.lr * gi / sqrtf(a);
    } else if constexpr (K == OptimizerKind::kRmsProp) {
      // ms = rho*ms + (1-rho)*g*g in TF's ApplyRMSProp form.
      const float ms0 = s0[i];
      const float ms = ms0 + (gi * gi - ms0) * (1.0f - h.rho);
      const float mom = s1[i] * h.rms_momentum + h.lr * gi / sqrtf(ms + h.rms_epsilon);
      s0[i] = ms;
      s1[i] = mom;
      w[i] = w[i] - mom;
    } else {  // kAdam, in TF's ApplyAdam form
      const float m0 = s0[i];
      const float v0 = s1[i];
      const float m = m0 + (gi - m0) * (1.0f - h.beta1);
      const float v = v0 + (gi * gi - v0) * (1.0f - h.beta2);
      s0[i] = m;
      s1[i] = v;
      w[i] = w[i] - (m * lr_t) / (sqrtf(v) + h.adam_epsilon);
    }
  }

  if (threadIdx.x == 0) {
    __threadfence();
    const unsigned prev = atomicAdd(&state->update_arrivals, 1u);
    if (prev == gridDim.x - 1) {  // every block has read the scalars: advance them
      __threadfence();
      state->step += 1;
      if constexpr (K == OptimizerKind::kAdam) {
        state->beta1_power = s_b1p * h.beta1;
        state->beta2_power = s_b2p * h.beta2;
      }
      state->update_arrivals = 0;
    }
  }
}

// A step with nothing to update still counts (global_step, adam's powers).
__global__ void advance_scalars_kernel(DeviceState* state, float beta1, float beta2, int adam) {
  state->step += 1;
  if (adam) {
    state->beta1_power = state->beta1_power * beta1;
    state->beta2_power = state->beta2_power * beta2;
  }
}

template <OptimizerKind K>
void launch(float* w, const float* g, float* s0, float* s1, const UpdateChunk* chunks,
            int num_chunks, const float* grad_scale, DeviceState* state, const Hyper& h,
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
  advance_scalars_kernel<<<1, 1, 0, stream>>>(state, config.beta1, config.beta2,
                                               config.kind == OptimizerKind::kAdam ? 1 : 0);
  GRAFT_CUDA_CHECK_LAUNCH();
}

void optimizer_update(const OptimizerConfig& config, float* w, const float* g, float* slot0,
                      float* slot1, const UpdateChunk* chunks, int num_chunks,
                      const float* grad_scale, DeviceState* state, cudaStream_t stream) {
  if (num_chunks <= 0) return optimizer_advance_scalars(config, state, stream);
  const Hyper h{config.learning_rate, config.momentum,         config.rho,
                config.rmsprop_momentum, config.rmsprop_epsilon, config.beta1,
                config.beta2,         config.adam_epsilon,     config.clip_value};
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
