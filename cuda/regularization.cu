// L1/L2 penalty, its gradient and max-norm on the device, on the scalar
// rules of host/math/regularization_math.h (the CPU backend's too). The
// penalty lands in the device state's training loss (the last block adds
// it), so a captured step needs no host round trip.
#include "cuda/regularization.h"

#include <algorithm>
#include <string>

#include "checkpoint/error.h"
#include "cuda/cuda_check.h"
#include "host/backend.h"
#include "host/math/regularization_math.h"

namespace graft::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kClipThreads = 128;

__global__ void __launch_bounds__(kThreads)
    penalty_kernel(const float* __restrict__ w, const PenaltyChunk* __restrict__ chunks, double weight,
                   double* __restrict__ partials, unsigned* __restrict__ arrivals, double* __restrict__ loss_sum) {
  __shared__ double s_abs[kThreads], s_sq[kThreads];
  __shared__ bool s_last;
  const PenaltyChunk ch = chunks[blockIdx.x];
  double a = 0.0, q = 0.0;
  for (int64_t i = ch.offset + threadIdx.x; i < ch.offset + ch.count; i += kThreads) {
    a += math::l1_term(w[i]);
    q += math::l2_term(w[i]);
  }
  s_abs[threadIdx.x] = a;
  s_sq[threadIdx.x] = q;
  __syncthreads();
#pragma unroll
  for (int half = kThreads / 2; half > 0; half >>= 1) {
    if (threadIdx.x < half) {
      s_abs[threadIdx.x] += s_abs[threadIdx.x + half];
      s_sq[threadIdx.x] += s_sq[threadIdx.x + half];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    partials[blockIdx.x] = math::penalty(ch.l1, s_abs[0], ch.l2, s_sq[0]);
    __threadfence();
    s_last = atomicAdd(arrivals, 1u) == gridDim.x - 1;
  }
  __syncthreads();
  if (!s_last || threadIdx.x != 0) return;
  __threadfence();
  double total = 0.0;
  for (unsigned b = 0; b < gridDim.x; ++b) total += __ldcg(&partials[b]);
  *loss_sum += weight * total;
  *arrivals = 0;
}

__global__ void __launch_bounds__(kThreads)
    gradient_kernel(float* __restrict__ g, const float* __restrict__ w, const PenaltyChunk* __restrict__ chunks) {
  const PenaltyChunk ch = chunks[blockIdx.x];
  for (int64_t i = ch.offset + threadIdx.x; i < ch.offset + ch.count; i += kThreads) {
    g[i] = math::regularized_gradient(g[i], w[i], ch.l1, ch.l2);
  }
}

// axis 1: one block per row.
__global__ void __launch_bounds__(kClipThreads)
    clip_rows_kernel(float* __restrict__ w, int64_t cols, float clip_norm) {
  __shared__ double s[kClipThreads];
  __shared__ float s_divisor;
  float* row = w + static_cast<int64_t>(blockIdx.x) * cols;
  double acc = 0.0;
  for (int64_t c = threadIdx.x; c < cols; c += kClipThreads) acc += static_cast<double>(row[c]) * row[c];
  s[threadIdx.x] = acc;
  __syncthreads();
#pragma unroll
  for (int half = kClipThreads / 2; half > 0; half >>= 1) {
    if (threadIdx.x < half) s[threadIdx.x] += s[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) s_divisor = math::clip_by_norm_divisor(static_cast<float>(s[0]), clip_norm);
  __syncthreads();
  const float divisor = s_divisor;
  for (int64_t c = threadIdx.x; c < cols; c += kClipThreads) {
    row[c] = math::clip_by_norm_element(row[c], clip_norm, divisor);
  }
}

// axis 0: one thread per column (neighbouring threads read neighbouring columns).
__global__ void __launch_bounds__(kClipThreads)
    clip_columns_kernel(float* __restrict__ w, int64_t rows, int64_t cols, float clip_norm) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kClipThreads + threadIdx.x;
  if (c >= cols) return;
  double acc = 0.0;
  for (int64_t r = 0; r < rows; ++r) acc += static_cast<double>(w[r * cols + c]) * w[r * cols + c];
  const float divisor = math::clip_by_norm_divisor(static_cast<float>(acc), clip_norm);
  for (int64_t r = 0; r < rows; ++r) w[r * cols + c] = math::clip_by_norm_element(w[r * cols + c], clip_norm, divisor);
}

std::vector<PenaltyChunk> chunks_of(int64_t offset, int64_t count, const ParamRegularizer& r) {
  std::vector<PenaltyChunk> out;
  for (int64_t done = 0; done < count; done += math::kPenaltyChunkElems) {
    out.push_back({offset + done, std::min<int64_t>(math::kPenaltyChunkElems, count - done), r.l1, r.l2});
  }
  return out;
}

void upload(DeviceBuffer<PenaltyChunk>& buffer, const std::vector<PenaltyChunk>& chunks, cudaStream_t stream) {
  buffer = DeviceBuffer<PenaltyChunk>();
  if (chunks.empty()) return;
  buffer = DeviceBuffer<PenaltyChunk>(chunks.size(), "regularization chunk table");
  GRAFT_CUDA_CHECK(cudaMemcpyAsync(buffer.get(), chunks.data(), buffer.bytes(), cudaMemcpyHostToDevice, stream));
  GRAFT_CUDA_CHECK(cudaStreamSynchronize(stream));  // the source is about to go
}

}  // namespace

void regularization_penalty(const float* w, const PenaltyChunk* chunks, int num_chunks, double weight,
                            double* partials, unsigned* arrivals, double* loss_sum, cudaStream_t stream) {
  if (num_chunks <= 0) return;
  penalty_kernel<<<static_cast<unsigned>(num_chunks), kThreads, 0, stream>>>(w, chunks, weight, partials, arrivals,
                                                                             loss_sum);
  GRAFT_CUDA_CHECK_LAUNCH();
}

void regularization_gradient(float* g, const float* w, const PenaltyChunk* chunks, int num_chunks,
                             cudaStream_t stream) {
  if (num_chunks <= 0) return;
  gradient_kernel<<<static_cast<unsigned>(num_chunks), kThreads, 0, stream>>>(g, w, chunks);
  GRAFT_CUDA_CHECK_LAUNCH();
}

void clip_kernel_by_norm(float* w, int64_t rows, int64_t cols, float clip_norm, int axis, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return;
  if (axis == 1) {
    clip_rows_kernel<<<static_cast<unsigned>(rows), kClipThreads, 0, stream>>>(w, cols, clip_norm);
  } else {
    const auto blocks = static_cast<unsigned>((cols + kClipThreads - 1) / kClipThreads);
    clip_columns_kernel<<<blocks, kClipThreads, 0, stream>>>(w, rows, cols, clip_norm);
  }
  GRAFT_CUDA_CHECK_LAUNCH();
}

void CudaRegularizer::configure(const ParameterLayout& layout, const std::vector<DenseLayerShape>& layers,
                                const std::vector<ParamRegularizer>& per_param, cudaStream_t stream) {
  if (!per_param.empty() && static_cast<int>(per_param.size()) != layout.size()) {
    throw Error("cuda backend: set_regularization: " + std::to_string(per_param.size()) + " regularizers for " +
                std::to_string(layout.size()) + " parameters");
  }
  params_ = per_param;
  params_.resize(static_cast<std::size_t>(layout.size()));
  kernel_shapes_.assign(params_.size(), {0, 0});
  std::vector<PenaltyChunk> chunks;
  for (int i = 0; i < layout.size(); ++i) {
    const ParamRegularizer& r = params_[static_cast<std::size_t>(i)];
    const ParamSlot& p = layout[i];
    if (r.max_norm > 0 && p.role != ParamRole::kKernel) {
      throw Error("cuda backend: set_regularization: max-norm on parameter " + std::to_string(i) +
                  ", which is not a kernel");
    }
    if (p.role == ParamRole::kKernel) {
      const DenseLayerShape& s = layers.at(static_cast<std::size_t>(p.node));
      kernel_shapes_[static_cast<std::size_t>(i)] = {s.fan_in, s.fan_out};
    }
    if (r.penalizes()) {
      const std::vector<PenaltyChunk> c = chunks_of(p.offset, p.count, r);
      chunks.insert(chunks.end(), c.begin(), c.end());
    }
  }
  penalty_count_ = static_cast<int>(chunks.size());
  upload(penalty_chunks_, chunks, stream);
  partials_ = penalty_count_ > 0 ? DeviceBuffer<double>(chunks.size(), "regularization partial sums")
                                 : DeviceBuffer<double>();
  arrivals_ = DeviceBuffer<unsigned>(1, "regularization counter");
  GRAFT_CUDA_CHECK(cudaMemsetAsync(arrivals_.get(), 0, sizeof(unsigned), stream));
  GRAFT_CUDA_CHECK(cudaStreamSynchronize(stream));
}

RegularizationTable CudaRegularizer::table(const ParameterLayout& layout, const std::vector<bool>& trainable,
                                           int first_layer, cudaStream_t stream) const {
  RegularizationTable t;
  std::vector<PenaltyChunk> chunks;
  for (int i = 0; i < layout.size() && i < static_cast<int>(params_.size()); ++i) {
    const ParamRegularizer& r = params_[static_cast<std::size_t>(i)];
    const ParamSlot& p = layout[i];
    if (!trainable[static_cast<std::size_t>(i)] || p.node < first_layer) continue;
    // Dense kernels and biases only, as the CPU backend adds them (a batch
    // norm's parameters have no regularizer in a model description).
    if (p.role != ParamRole::kKernel && p.role != ParamRole::kBias) continue;
    if (r.penalizes()) {
      const std::vector<PenaltyChunk> c = chunks_of(p.offset, p.count, r);
      chunks.insert(chunks.end(), c.begin(), c.end());
    }
    if (r.max_norm > 0) {
      const auto [rows, cols] = kernel_shapes_[static_cast<std::size_t>(i)];
      t.clips.push_back({p.offset, rows, cols, r.max_norm, r.max_norm_axis});
    }
  }
  t.gradient_count = static_cast<int>(chunks.size());
  upload(t.gradient_chunks, chunks, stream);
  return t;
}

void CudaRegularizer::enqueue_penalty(const float* params, int64_t n, double* loss_sum, cudaStream_t stream) const {
  regularization_penalty(params, penalty_chunks_.get(), penalty_count_, static_cast<double>(n), partials_.get(),
                         arrivals_.get(), loss_sum, stream);
}

void CudaRegularizer::enqueue_gradient(const RegularizationTable& t, float* grads, const float* params,
                                       cudaStream_t stream) const {
  regularization_gradient(grads, params, t.gradient_chunks.get(), t.gradient_count, stream);
}

void CudaRegularizer::enqueue_max_norm(const RegularizationTable& t, float* params, cudaStream_t stream) const {
  for (const RegularizationTable::Clip& c : t.clips) {
    clip_kernel_by_norm(params + c.offset, c.rows, c.cols, c.clip_norm, c.axis, stream);
  }
}

}  // namespace graft::cuda
