// Batch gather: one block per output row (grid-stride over rows), 16-byte
// copies when the row width allows. The labels of the batch are gathered by
// the same kernel, so a training step starts with a single launch.
#include "cuda/gather.h"

#include <algorithm>

#include "cuda/cuda_check.h"

namespace graft::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int64_t kMaxBlocks = 8192;

__global__ void __launch_bounds__(kThreads) gather_batch_kernel(GatherArgs a) {
  for (int64_t i = blockIdx.x; i < a.n; i += gridDim.x) {
    const int64_t pos = a.begin + i;
    const int64_t src = a.order != nullptr ? static_cast<int64_t>(a.order[pos]) : pos;
    if (a.labels_out != nullptr && threadIdx.x == 0) a.labels_out[i] = a.labels[src];
    if (a.vec4) {
      const float4* s = reinterpret_cast<const float4*>(a.features + src * a.cols);
      float4* d = reinterpret_cast<float4*>(a.out + i * a.cols);
      const int64_t n4 = a.cols / 4;
      for (int64_t c = threadIdx.x; c < n4; c += kThreads) d[c] = __ldg(&s[c]);
    } else {
      const float* s = a.features + src * a.cols;
      float* d = a.out + i * a.cols;
      for (int64_t c = threadIdx.x; c < a.cols; c += kThreads) d[c] = __ldg(&s[c]);
    }
  }
}

GatherArgs prepared(const GatherArgs& in) {
  GatherArgs a = in;
  const auto aligned = [](const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; };
  a.vec4 = (a.cols % 4 == 0 && aligned(a.features) && aligned(a.out)) ? 1 : 0;
  return a;
}

unsigned grid_for(int64_t n) { return static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(n, 1), kMaxBlocks)); }

}  // namespace

void gather_batch(const GatherArgs& args, cudaStream_t stream) {
  if (args.n <= 0) return;
  const GatherArgs a = prepared(args);
  gather_batch_kernel<<<grid_for(a.n), kThreads, 0, stream>>>(a);
  GRAFT_CUDA_CHECK_LAUNCH();
}

void gather_rows(const float* src, const uint32_t* index, float* out, int64_t n, int64_t cols,
                 cudaStream_t stream) {
  GatherArgs a;
  a.features = src;
  a.order = index;
  a.n = n;
  a.cols = cols;
  a.out = out;
  gather_batch(a, stream);
}

cudaKernelNodeParams gather_batch_launch_params(const GatherArgs& args) {
  cudaKernelNodeParams p{};
  p.func = reinterpret_cast<void*>(&gather_batch_kernel);
  p.gridDim = dim3(grid_for(args.n));
  p.blockDim = dim3(kThreads);
  p.sharedMemBytes = 0;
  p.kernelParams = nullptr;
  p.extra = nullptr;
  return p;
}

void gather_batch_update_node(cudaGraphExec_t exec, cudaGraphNode_t node,
                              const cudaKernelNodeParams& captured, const GatherArgs& args) {
  GatherArgs a = prepared(args);
  void* kernel_args[] = {&a};
  cudaKernelNodeParams p = captured;  // the node's own function and launch shape
  p.kernelParams = kernel_args;
  p.extra = nullptr;
  GRAFT_CUDA_CHECK(cudaGraphExecKernelNodeSetParams(exec, node, &p));
}

}  // namespace graft::cuda
