// Fused bias + activation forward, and activation backward fused with the
// bias-gradient column reduction. Each kernel touches its data once; the
// activations are host/math/activation_math.h's, as on the CPU.
#include "cuda/bias_activation.h"

#include <algorithm>

#include "checkpoint/error.h"
#include "cuda/cuda_check.h"
#include "host/math/activation_math.h"

namespace graft::cuda {
namespace {

// ---------------------------------------------------------------------------
// forward: flat grid-stride loop; the column of element i is i % cols.
template <ActivationKind K, typename Index>
__global__ void bias_act_forward_kernel(float* __restrict__ y, const float* __restrict__ bias,
                                        Index total, Index cols, float alpha) {
  const Index stride = static_cast<Index>(gridDim.x) * blockDim.x;
  for (Index i = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += stride) {
    y[i] = math::activation<K>(y[i] + bias[i % cols], alpha);
  }
}

template <ActivationKind K>
void launch_forward(float* y, const float* bias, int64_t rows, int64_t cols, float alpha,
                    cudaStream_t stream) {
  const int64_t total = rows * cols;
  constexpr int kThreads = 256;
  const int64_t blocks = std::min<int64_t>((total + kThreads - 1) / kThreads, 8192);
  if (total < (int64_t{1} << 31)) {
    bias_act_forward_kernel<K, uint32_t><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
        y, bias, static_cast<uint32_t>(total), static_cast<uint32_t>(cols), alpha);
  } else {
    bias_act_forward_kernel<K, int64_t><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
        y, bias, total, cols, alpha);
  }
  GRAFT_CUDA_CHECK_LAUNCH();
}

// ---------------------------------------------------------------------------
// backward: block (32, 8) covers 32 columns; blockIdx.y is a split of the
// rows. Threads read grad/y coalesced along a row (32 consecutive columns).
constexpr int kTileCols = 32;
constexpr int kTileRows = 8;

template <ActivationKind K>
__global__ void __launch_bounds__(kTileCols* kTileRows)
    act_backward_bias_grad_kernel(float* __restrict__ grad, const float* __restrict__ y,
                                  float* __restrict__ bias_grad, int64_t rows, int64_t cols,
                                  int64_t rows_per_split, float alpha,
                                  float* __restrict__ partials, unsigned* __restrict__ arrivals) {
  __shared__ float s_sum[kTileRows][kTileCols + 1];
  __shared__ bool s_last;
  const int tx = threadIdx.x;
  const int ty = threadIdx.y;
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kTileCols + tx;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * rows_per_split;
  const int64_t r1 = min(rows, r0 + rows_per_split);

  float acc = 0.0f;
  if (c < cols) {
    for (int64_t r = r0 + ty; r < r1; r += kTileRows) {
      const int64_t i = r * cols + c;
      float g = grad[i];
      if constexpr (K != ActivationKind::kIdentity) {
        g = math::activation_grad<K>(g, y[i], alpha);
        grad[i] = g;
      }
      acc += g;
    }
  }
  s_sum[ty][tx] = acc;
  __syncthreads();

  if (gridDim.y == 1) {  // one split: this block owns the columns
    if (ty == 0 && c < cols) {
      float sum = s_sum[0][tx];
#pragma unroll
      for (int k = 1; k < kTileRows; ++k) sum += s_sum[k][tx];
      bias_grad[c] = sum;
    }
    return;
  }

  if (ty == 0 && c < cols) {
    float sum = s_sum[0][tx];
#pragma unroll
    for (int k = 1; k < kTileRows; ++k) sum += s_sum[k][tx];
    partials[static_cast<int64_t>(blockIdx.y) * cols + c] = sum;
    __threadfence();  // publish the partial before this block is counted
  }
  __syncthreads();
  if (tx == 0 && ty == 0) {
    const unsigned prev = atomicAdd(&arrivals[blockIdx.x], 1u);
    s_last = (prev == gridDim.y - 1);
  }
  __syncthreads();
  if (!s_last) return;
  __threadfence();
  if (ty == 0 && c < cols) {
    float sum = 0.0f;
    for (unsigned s = 0; s < gridDim.y; ++s) sum += __ldcg(&partials[static_cast<int64_t>(s) * cols + c]);
    bias_grad[c] = sum;
  }
  if (tx == 0 && ty == 0) arrivals[blockIdx.x] = 0;  // ready for the next launch (graph replay)
}

template <ActivationKind K>
void launch_backward(float* grad, const float* y, float* bias_grad, int64_t rows, int64_t cols,
                     float alpha, const BiasGradWorkspace& ws, cudaStream_t stream) {
  // Rows per split: at least 64, at most kBiasGradMaxSplits splits.
  int64_t splits = std::clamp<int64_t>((rows + 63) / 64, 1, kBiasGradMaxSplits);
  const int64_t rows_per_split = std::max<int64_t>((rows + splits - 1) / splits, 1);
  splits = std::max<int64_t>((rows + rows_per_split - 1) / rows_per_split, 1);
  const dim3 block(kTileCols, kTileRows);
  const dim3 grid(static_cast<unsigned>((cols + kTileCols - 1) / kTileCols),
                  static_cast<unsigned>(splits));
  act_backward_bias_grad_kernel<K><<<grid, block, 0, stream>>>(
      grad, y, bias_grad, rows, cols, rows_per_split, alpha, ws.partials, ws.arrivals);
  GRAFT_CUDA_CHECK_LAUNCH();
}

}  // namespace

void bias_activation_forward(float* y, const float* bias, int64_t rows, int64_t cols,
                             const Activation& act, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return;
  switch (act.kind) {
    case ActivationKind::kIdentity: return launch_forward<ActivationKind::kIdentity>(y, bias, rows, cols, act.alpha, stream);
    case ActivationKind::kRelu: return launch_forward<ActivationKind::kRelu>(y, bias, rows, cols, act.alpha, stream);
    case ActivationKind::kElu: return launch_forward<ActivationKind::kElu>(y, bias, rows, cols, act.alpha, stream);
    case ActivationKind::kSelu: return launch_forward<ActivationKind::kSelu>(y, bias, rows, cols, act.alpha, stream);
    case ActivationKind::kLeakyRelu: return launch_forward<ActivationKind::kLeakyRelu>(y, bias, rows, cols, act.alpha, stream);
    case ActivationKind::kTanh: return launch_forward<ActivationKind::kTanh>(y, bias, rows, cols, act.alpha, stream);
    case ActivationKind::kSigmoid: return launch_forward<ActivationKind::kSigmoid>(y, bias, rows, cols, act.alpha, stream);
  }
  throw Error("bias_activation_forward: unknown activation");
}

void activation_backward_bias_grad(float* grad, const float* y, float* bias_grad, int64_t rows,
                                   int64_t cols, const Activation& act,
                                   const BiasGradWorkspace& ws, cudaStream_t stream) {
  if (cols <= 0) return;
  if (cols > ws.max_cols) {
    throw Error("activation_backward_bias_grad: " + std::to_string(cols) +
                " columns exceed the workspace's " + std::to_string(ws.max_cols));
  }
  rows = std::max<int64_t>(rows, 0);
  switch (act.kind) {
    case ActivationKind::kIdentity: return launch_backward<ActivationKind::kIdentity>(grad, y, bias_grad, rows, cols, act.alpha, ws, stream);
    case ActivationKind::kRelu: return launch_backward<ActivationKind::kRelu>(grad, y, bias_grad, rows, cols, act.alpha, ws, stream);
    case ActivationKind::kElu: return launch_backward<ActivationKind::kElu>(grad, y, bias_grad, rows, cols, act.alpha, ws, stream);
    case ActivationKind::kSelu: return launch_backward<ActivationKind::kSelu>(grad, y, bias_grad, rows, cols, act.alpha, ws, stream);
    case ActivationKind::kLeakyRelu: return launch_backward<ActivationKind::kLeakyRelu>(grad, y, bias_grad, rows, cols, act.alpha, ws, stream);
    case ActivationKind::kTanh: return launch_backward<ActivationKind::kTanh>(grad, y, bias_grad, rows, cols, act.alpha, ws, stream);
    case ActivationKind::kSigmoid: return launch_backward<ActivationKind::kSigmoid>(grad, y, bias_grad, rows, cols, act.alpha, ws, stream);
  }
  throw Error("activation_backward_bias_grad: unknown activation");
}

}  // namespace graft::cuda
