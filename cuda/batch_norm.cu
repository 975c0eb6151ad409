// graft's own batch-norm kernels (cuda/batch_norm.h), on the scalar rules of
// host/math/batch_norm_math.h and the activations of activation_math.h, as
// the CPU twins (host/cpu/batch_norm_kernels.cc).
//
// Column reductions: one block per tile of kTileCols columns; its
// kTileCols x kTileRows threads walk the rows (a warp reads 4 rows x 8
// columns: four full 32-byte sectors), each thread accumulating in double
// in row order, then a fixed tree over the row lanes. One block owns a
// column, so both passes of the statistics (the mean, then the squared
// deviations from it) fit in one kernel with no grid-wide step, and the
// result depends only on the shape, never on scheduling. Double accumulation
// (as on the CPU) makes CPU and GPU statistics round to the same float or
// to neighbours: the sums differ only in the order of exact-ish double adds.
#include "cuda/batch_norm.h"

#include <algorithm>
#include <string>

#include "checkpoint/error.h"
#include "cuda/batch_norm_detail.h"
#include "cuda/cuda_check.h"
#include "host/math/activation_math.h"
#include "host/math/batch_norm_math.h"

namespace graft::cuda {
namespace {

constexpr int kTileCols = 8;
constexpr int kTileRows = 64;

// Sums v over the row lanes of the block for each column (tx), in a fixed
// tree; every thread returns its column's total.
__device__ double column_total(double v, double (*s)[kTileCols]) {
  const int tx = threadIdx.x, ty = threadIdx.y;
  s[ty][tx] = v;
  __syncthreads();
#pragma unroll
  for (int stride = kTileRows / 2; stride > 0; stride /= 2) {
    if (ty < stride) s[ty][tx] += s[ty + stride][tx];
    __syncthreads();
  }
  const double total = s[0][tx];
  __syncthreads();  // s is reused by the next call
  return total;
}

__global__ void __launch_bounds__(kTileCols* kTileRows)
    stats_kernel(const float* __restrict__ x, int64_t rows, int64_t cols, float epsilon,
                 float* __restrict__ batch_mean, float* __restrict__ batch_var, float* __restrict__ rstd) {
  __shared__ double s[kTileRows][kTileCols];
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kTileCols + threadIdx.x;
  const bool live = c < cols;
  double sum = 0.0;
  if (live) {
    for (int64_t r = threadIdx.y; r < rows; r += kTileRows) sum += static_cast<double>(x[r * cols + c]);
  }
  const double n = static_cast<double>(rows);
  const double mean = column_total(sum, s) / n;
  double sq = 0.0;
  if (live) {
    for (int64_t r = threadIdx.y; r < rows; r += kTileRows) {
      const double d = static_cast<double>(x[r * cols + c]) - mean;
      sq += d * d;
    }
  }
  const double var = column_total(sq, s) / n;
  if (live && threadIdx.y == 0) {
    const float v = static_cast<float>(var);
    batch_mean[c] = static_cast<float>(mean);
    batch_var[c] = v;
    rstd[c] = 1.0f / sqrtf(v + epsilon);
  }
}

// y = act(x * inv + shift), inv and shift from (mean, var, gamma, beta) of
// the element's column, by the CPU's formulas (IEEE division and sqrtf, no
// FMA contraction: -fmad=false), so y matches the CPU's whenever the
// statistics do.
template <ActivationKind K>
__global__ void normalise_kernel(const float* x, int64_t rows, int64_t cols, const float* __restrict__ gamma,
                                 const float* __restrict__ beta, const float* __restrict__ mean,
                                 const float* __restrict__ var, float epsilon, float alpha, float* y) {
  for (int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; c < cols;
       c += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float inv = math::batch_norm_inv(var[c], epsilon, gamma ? gamma[c] : 1.0f);
    const float shift = math::batch_norm_shift(mean[c], inv, beta ? beta[c] : 0.0f);
    for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
      const int64_t i = r * cols + c;
      y[i] = math::activation<K>(math::batch_norm_apply(x[i], inv, shift), alpha);
    }
  }
}

// Backward reductions: sum g and sum g * xhat per column, g = act'(dy, y).
template <ActivationKind K>
__global__ void __launch_bounds__(kTileCols* kTileRows)
    backward_sums_kernel(const float* __restrict__ dy, const float* __restrict__ y, float alpha,
                         const float* __restrict__ x, const float* __restrict__ mean,
                         const float* __restrict__ rstd, int64_t rows, int64_t cols, float* __restrict__ sums,
                         float* __restrict__ dgamma, float* __restrict__ dbeta) {
  __shared__ double s[kTileRows][kTileCols];
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kTileCols + threadIdx.x;
  const bool live = c < cols;
  double sg = 0.0, sgx = 0.0;
  if (live) {
    const float m = mean[c], rs = rstd[c];
    for (int64_t r = threadIdx.y; r < rows; r += kTileRows) {
      const int64_t i = r * cols + c;
      const float g = math::activation_grad<K>(dy[i], y[i], alpha);
      const float xhat = (x[i] - m) * rs;
      sg += static_cast<double>(g);
      sgx += static_cast<double>(g) * static_cast<double>(xhat);
    }
  }
  const float total_g = static_cast<float>(column_total(sg, s));
  const float total_gx = static_cast<float>(column_total(sgx, s));
  if (live && threadIdx.y == 0) {
    sums[c] = total_g;
    sums[cols + c] = total_gx;
    if (dbeta) dbeta[c] = total_g;
    if (dgamma) dgamma[c] = total_gx;
  }
}

template <ActivationKind K>
__global__ void backward_dx_kernel(const float* dy, const float* __restrict__ y, float alpha,
                                   const float* __restrict__ x, const float* __restrict__ mean,
                                   const float* __restrict__ rstd, const float* __restrict__ gamma, int64_t rows,
                                   int64_t cols, const float* __restrict__ sums, float* dx) {
  const float n = static_cast<float>(rows);
  for (int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; c < cols;
       c += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float m = mean[c], rs = rstd[c];
    const float k = (gamma ? gamma[c] : 1.0f) * rs / n;
    const float sg = sums[c], sgx = sums[cols + c];
    for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
      const int64_t i = r * cols + c;
      const float g = math::activation_grad<K>(dy[i], y[i], alpha);
      const float xhat = (x[i] - m) * rs;
      dx[i] = math::batch_norm_input_grad(g, xhat, k, n, sg, sgx);
    }
  }
}

// Inference-form backward (the moving statistics; CPU twin: node_ops.cc):
// sum g and sum g * xhat per column, xhat = (x - moving_mean) * rstd with
// rstd = 1 / sqrtf(moving_var + eps), as the training form's reductions.
template <ActivationKind K>
__global__ void __launch_bounds__(kTileCols* kTileRows)
    infer_backward_sums_kernel(const float* __restrict__ dy, const float* __restrict__ y, float alpha,
                               const float* __restrict__ x, const float* __restrict__ moving_mean,
                               const float* __restrict__ moving_var, float epsilon, int64_t rows, int64_t cols,
                               float* __restrict__ dgamma, float* __restrict__ dbeta) {
  __shared__ double s[kTileRows][kTileCols];
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kTileCols + threadIdx.x;
  const bool live = c < cols;
  double sg = 0.0, sgx = 0.0;
  if (live) {
    const float m = moving_mean[c], rs = math::batch_norm_inv(moving_var[c], epsilon, 1.0f);
    for (int64_t r = threadIdx.y; r < rows; r += kTileRows) {
      const int64_t i = r * cols + c;
      const float g = math::activation_grad<K>(dy[i], y[i], alpha);
      sg += static_cast<double>(g);
      sgx += static_cast<double>(g) * static_cast<double>((x[i] - m) * rs);
    }
  }
  const double total_g = column_total(sg, s);
  const double total_gx = column_total(sgx, s);
  if (live && threadIdx.y == 0) {
    if (dbeta) dbeta[c] = static_cast<float>(total_g);
    if (dgamma) dgamma[c] = static_cast<float>(total_gx);
  }
}

// dx = act'(dy, y) * inv, inv = (1 / sqrtf(moving_var + eps)) * gamma.
template <ActivationKind K>
__global__ void infer_backward_dx_kernel(const float* dy, const float* __restrict__ y, float alpha,
                                         const float* __restrict__ moving_var, const float* __restrict__ gamma,
                                         float epsilon, int64_t rows, int64_t cols, float* dx) {
  for (int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; c < cols;
       c += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float inv = math::batch_norm_inv(moving_var[c], epsilon, gamma ? gamma[c] : 1.0f);
    for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
      const int64_t i = r * cols + c;
      dx[i] = math::activation_grad<K>(dy[i], y[i], alpha) * inv;
    }
  }
}

__global__ void update_moving_kernel(float* moving_mean, float* moving_var, const float* __restrict__ batch_mean,
                                     const float* __restrict__ batch_var, int64_t cols, float decay, float adjust,
                                     bool bessel) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  moving_mean[c] = math::moving_average_update(moving_mean[c], batch_mean[c], decay);
  const float v = bessel ? batch_var[c] * adjust : batch_var[c];
  moving_var[c] = math::moving_average_update(moving_var[c], v, decay);
}

template <ActivationKind K>
__global__ void activation_kernel(float* y, int64_t n, float alpha) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    y[i] = math::activation<K>(y[i], alpha);
  }
}

template <ActivationKind K>
__global__ void activation_grad_kernel(const float* dy, const float* __restrict__ y, float* g, int64_t n,
                                       float alpha) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    g[i] = math::activation_grad<K>(dy[i], y[i], alpha);
  }
}

__global__ void scale_kernel(const float* in, float factor, float* out, int64_t n) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[i] = in[i] * factor;
  }
}

// Elementwise [rows, cols] launches: threads along a row, blockIdx.y over rows.
constexpr int kRowThreads = 128;
dim3 elementwise_grid(int64_t rows, int64_t cols) {
  return dim3(static_cast<unsigned>(std::min<int64_t>((cols + kRowThreads - 1) / kRowThreads, 64)),
              static_cast<unsigned>(std::min<int64_t>(rows, 65535)));
}
unsigned flat_blocks(int64_t n) {
  return static_cast<unsigned>(std::clamp<int64_t>((n + 255) / 256, 1, 8192));
}
unsigned tile_blocks(int64_t cols) { return static_cast<unsigned>((cols + kTileCols - 1) / kTileCols); }

}  // namespace

void batch_norm_forward_train(const float* x, int64_t rows, int64_t cols, const float* gamma,
                              const float* beta, float epsilon, Activation act, float* y,
                              float* batch_mean, float* batch_var, float* rstd, cudaStream_t stream) {
  if (rows < 1) throw Error("batch_norm_forward_train: a batch of " + std::to_string(rows) + " rows (pass at least 1)");
  if (cols <= 0) return;
  stats_kernel<<<tile_blocks(cols), dim3(kTileCols, kTileRows), 0, stream>>>(x, rows, cols, epsilon, batch_mean,
                                                                             batch_var, rstd);
  GRAFT_CUDA_CHECK_LAUNCH();
  math::dispatch_activation(act.kind, [&](auto kind) {
    normalise_kernel<decltype(kind)::value><<<elementwise_grid(rows, cols), kRowThreads, 0, stream>>>(
        x, rows, cols, gamma, beta, batch_mean, batch_var, epsilon, act.alpha, y);
    return 0;
  });
  GRAFT_CUDA_CHECK_LAUNCH();
}

void batch_norm_forward_infer(const float* x, int64_t rows, int64_t cols, const float* gamma,
                              const float* beta, const float* moving_mean, const float* moving_var,
                              float epsilon, Activation act, float* y, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return;
  math::dispatch_activation(act.kind, [&](auto kind) {
    normalise_kernel<decltype(kind)::value><<<elementwise_grid(rows, cols), kRowThreads, 0, stream>>>(
        x, rows, cols, gamma, beta, moving_mean, moving_var, epsilon, act.alpha, y);
    return 0;
  });
  GRAFT_CUDA_CHECK_LAUNCH();
}

void batch_norm_update_moving(float* moving_mean, float* moving_var, const float* batch_mean,
                              const float* batch_var, int64_t rows, int64_t cols, double momentum,
                              bool bessel_correction, cudaStream_t stream) {
  if (bessel_correction && rows < 2) {
    throw Error("batch_norm_update_moving: Bessel's correction needs a batch of at least 2 rows, got " +
                std::to_string(rows));
  }
  if (cols <= 0) return;
  const float decay = static_cast<float>(1.0 - momentum);  // as on the CPU: TF's float32(1 - momentum)
  const float adjust = bessel_correction ? static_cast<float>(rows) / static_cast<float>(rows - 1) : 1.0f;
  update_moving_kernel<<<static_cast<unsigned>((cols + 255) / 256), 256, 0, stream>>>(
      moving_mean, moving_var, batch_mean, batch_var, cols, decay, adjust, bessel_correction);
  GRAFT_CUDA_CHECK_LAUNCH();
}

void batch_norm_backward(const float* dy, const float* y, Activation act, const float* x,
                         const float* batch_mean, const float* rstd, const float* gamma,
                         int64_t rows, int64_t cols, float* dx, float* dgamma, float* dbeta,
                         float* sums, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return;
  math::dispatch_activation(act.kind, [&](auto kind) {
    constexpr ActivationKind K = decltype(kind)::value;
    backward_sums_kernel<K><<<tile_blocks(cols), dim3(kTileCols, kTileRows), 0, stream>>>(
        dy, y, act.alpha, x, batch_mean, rstd, rows, cols, sums, dgamma, dbeta);
    GRAFT_CUDA_CHECK_LAUNCH();
    if (dx) {
      backward_dx_kernel<K><<<elementwise_grid(rows, cols), kRowThreads, 0, stream>>>(
          dy, y, act.alpha, x, batch_mean, rstd, gamma, rows, cols, sums, dx);
      GRAFT_CUDA_CHECK_LAUNCH();
    }
    return 0;
  });
}

void batch_norm_backward_infer(const float* dy, const float* y, Activation act, const float* x,
                               const float* moving_mean, const float* moving_var, const float* gamma,
                               float epsilon, int64_t rows, int64_t cols, float* dx, float* dgamma,
                               float* dbeta, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return;
  math::dispatch_activation(act.kind, [&](auto kind) {
    constexpr ActivationKind K = decltype(kind)::value;
    // The sums read dy before the dx kernel may overwrite it (dx == dy): same stream, in order.
    if (dgamma || dbeta) {
      infer_backward_sums_kernel<K><<<tile_blocks(cols), dim3(kTileCols, kTileRows), 0, stream>>>(
          dy, y, act.alpha, x, moving_mean, moving_var, epsilon, rows, cols, dgamma, dbeta);
      GRAFT_CUDA_CHECK_LAUNCH();
    }
    if (dx) {
      infer_backward_dx_kernel<K><<<elementwise_grid(rows, cols), kRowThreads, 0, stream>>>(
          dy, y, act.alpha, moving_var, gamma, epsilon, rows, cols, dx);
      GRAFT_CUDA_CHECK_LAUNCH();
    }
    return 0;
  });
}

namespace detail {

void activation_in_place(float* y, int64_t n, Activation act, cudaStream_t stream) {
  if (n <= 0 || act.kind == ActivationKind::kIdentity) return;
  math::dispatch_activation(act.kind, [&](auto kind) {
    activation_kernel<decltype(kind)::value><<<flat_blocks(n), 256, 0, stream>>>(y, n, act.alpha);
    return 0;
  });
  GRAFT_CUDA_CHECK_LAUNCH();
}

void activation_grad(const float* dy, const float* y, float* g, int64_t n, Activation act, cudaStream_t stream) {
  if (n <= 0) return;
  math::dispatch_activation(act.kind, [&](auto kind) {
    activation_grad_kernel<decltype(kind)::value><<<flat_blocks(n), 256, 0, stream>>>(dy, y, g, n, act.alpha);
    return 0;
  });
  GRAFT_CUDA_CHECK_LAUNCH();
}

void scale(const float* in, float factor, float* out, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  scale_kernel<<<flat_blocks(n), 256, 0, stream>>>(in, factor, out, n);
  GRAFT_CUDA_CHECK_LAUNCH();
}

}  // namespace detail
}  // namespace graft::cuda
