// Global gradient norm for clip-by-global-norm: per-chunk sums of squares in
// double, a fixed-shape tree inside each block, and the last block adding the
// block partials in chunk order. The resulting scale stays on the device and
// is read by the update kernel (no extra pass over the gradients, no host
// round trip).
#include "cuda/reductions.h"

#include "checkpoint/error.h"
#include "cuda/cuda_check.h"
#include "host/math/clip_math.h"

namespace graft::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads)
    global_norm_kernel(const float* __restrict__ g, const UpdateChunk* __restrict__ chunks,
                       float clip_norm, double* __restrict__ partials,
                       DeviceState* __restrict__ state) {
  __shared__ double s[kThreads];
  __shared__ bool s_last;
  const UpdateChunk ch = chunks[blockIdx.x];
  double acc = 0.0;
  for (int64_t i = ch.offset + threadIdx.x; i < ch.offset + ch.count; i += kThreads) {
    const double v = static_cast<double>(g[i]);
    acc += v * v;
  }
  s[threadIdx.x] = acc;
  __syncthreads();
#pragma unroll
  for (int half = kThreads / 2; half > 0; half >>= 1) {
    if (threadIdx.x < half) s[threadIdx.x] += s[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    partials[blockIdx.x] = s[0];
    __threadfence();
    const unsigned prev = atomicAdd(&state->norm_arrivals, 1u);
    s_last = (prev == gridDim.x - 1);
  }
  __syncthreads();
  if (!s_last || threadIdx.x != 0) return;
  __threadfence();
  double total = 0.0;
  for (unsigned b = 0; b < gridDim.x; ++b) total += __ldcg(&partials[b]);
  const double norm = sqrt(total);
  state->grad_sumsq = total;
  state->norm_scale = math::global_norm_scale(clip_norm, norm);
  state->norm_arrivals = 0;
}

}  // namespace

void global_norm_scale(const float* g, const UpdateChunk* chunks, int num_chunks, float clip_norm,
                       double* partials, DeviceState* state, cudaStream_t stream) {
  if (num_chunks <= 0) throw Error("global_norm_scale: no gradients");
  global_norm_kernel<<<static_cast<unsigned>(num_chunks), kThreads, 0, stream>>>(
      g, chunks, clip_norm, partials, state);
  GRAFT_CUDA_CHECK_LAUNCH();
}

}  // namespace graft::cuda
