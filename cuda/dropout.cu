// Dropout's kernels: one counter_uniform per element, the CPU twin's call
// (host/cpu/dropout_kernels.cc), so the masks are bit-identical; the step is
// loaded from device memory when the kernel runs (graph replays).
#include "cuda/dropout.h"

#include <algorithm>
#include <string>

#include "checkpoint/error.h"
#include "cuda/cuda_check.h"
#include "host/math/counter_rng.h"

namespace graft::cuda {
namespace {

// Grid-stride over rows (blockIdx.y) and columns (blockIdx.x * blockDim.x):
// no division per element, coalesced along a row.
__global__ void dropout_kernel(const float* in, int64_t rows, int64_t cols, float keep,
                               float inv_keep, uint64_t seed, const uint64_t* __restrict__ step,
                               uint32_t node, float* out) {
  const uint64_t s = *step;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    for (int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; c < cols;
         c += static_cast<int64_t>(gridDim.x) * blockDim.x) {
      const int64_t i = r * cols + c;
      const float u = math::counter_uniform(seed, s, node, static_cast<uint32_t>(r), static_cast<uint32_t>(c));
      out[i] = math::dropout_apply(in[i], math::dropout_keeps(u, keep), inv_keep);
    }
  }
}

void launch(const char* what, const float* in, int64_t rows, int64_t cols, float rate, uint64_t seed,
            const uint64_t* step, uint32_t node, float* out, cudaStream_t stream) {
  if (!(rate >= 0.0f && rate < 1.0f)) {
    throw Error(std::string(what) + ": dropout rate " + std::to_string(rate) + " is outside [0, 1)");
  }
  if (rows <= 0 || cols <= 0) return;
  if (rate == 0.0f) {
    if (out != in) {
      GRAFT_CUDA_CHECK(cudaMemcpyAsync(out, in, static_cast<size_t>(rows * cols) * sizeof(float),
                                       cudaMemcpyDeviceToDevice, stream));
    }
    return;
  }
  const float keep = 1.0f - rate;
  const float inv_keep = 1.0f / keep;
  constexpr int kThreads = 128;
  const dim3 grid(static_cast<unsigned>(std::min<int64_t>((cols + kThreads - 1) / kThreads, 64)),
                  static_cast<unsigned>(std::min<int64_t>(rows, 65535)));
  dropout_kernel<<<grid, kThreads, 0, stream>>>(in, rows, cols, keep, inv_keep, seed, step, node, out);
  GRAFT_CUDA_CHECK_LAUNCH();
}

}  // namespace

void dropout_forward(const float* x, int64_t rows, int64_t cols, float rate, uint64_t seed,
                     const uint64_t* step, uint32_t node, float* y, cudaStream_t stream) {
  launch("dropout_forward", x, rows, cols, rate, seed, step, node, y, stream);
}

void dropout_backward(const float* dy, int64_t rows, int64_t cols, float rate, uint64_t seed,
                      const uint64_t* step, uint32_t node, float* dx, cudaStream_t stream) {
  launch("dropout_backward", dy, rows, cols, rate, seed, step, node, dx, stream);
}

}  // namespace graft::cuda
