// The CUDA backend's batch-norm and dropout nodes on the graph path: their
// buffers (sized in build(), none for a dense stack) and one node's kernels
// in the form the node walk gives it (cuda/node_walk.h), mirroring the CPU
// backend's node ops (host/cpu/node_ops.cc) kernel for kernel:
//
//   batch norm [batch]   statistics + normalise (cuDNN or graft's kernels,
//                        cuda/batch_norm.h), then batch_norm_update_moving
//                        with the biased variance (TF's rule for 2-D inputs,
//                        the CPU's choice, argued in host/cpu/node_ops.h)
//   batch norm [moving]  normalise with the moving statistics
//   dropout [on]         cuda/dropout.h with the step read from DeviceState
//   dropout [off]        a device-to-device copy
//
// Backward: batch norm [batch] through the batch statistics (cuDNN's
// backward or graft's); [moving] through the fixed affine map
// (batch_norm_backward_infer, both paths); dropout recomputes its mask.
// Every launch is on stream_ and graph-capturable; nothing allocates.
// The class: cuda/cuda_backend_internal.h.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>

#include "cuda/batch_norm.h"
#include "cuda/cuda_backend_internal.h"
#include "cuda/cuda_check.h"
#include "cuda/dropout.h"
#include "host/nvtx_range.h"

namespace graft::cuda {
namespace {

// A batch-norm node's tensors: parameters in the flat buffer (gamma / beta
// null without scale / center) and the statistics of its last training-form
// forward in bn_stats_.
struct BatchNormTensors {
  const float* gamma = nullptr;
  const float* beta = nullptr;
  float* moving_mean = nullptr;
  float* moving_var = nullptr;
  float* batch_mean = nullptr;
  float* batch_var = nullptr;
  float* rstd = nullptr;
};

}  // namespace

// DeviceState::step is the optimizer's global step (long long, advanced by
// the update kernel's last block after the backward); the dropout kernels
// take it as a uint64_t, the CPU backend's static_cast<uint64_t>(step).
const uint64_t* CudaBackend::device_step() const {
  static_assert(sizeof(DeviceState::step) == sizeof(uint64_t) && std::is_integral_v<decltype(DeviceState::step)>,
                "the dropout kernels read DeviceState::step as a uint64_t");
  return reinterpret_cast<const uint64_t*>(&state_.get()->step);
}

void CudaBackend::set_dropout_seed(uint64_t seed) {
  if (seed == dropout_seed()) return;
  Backend::set_dropout_seed(seed);
  // Captured graphs carry the old seed as a kernel argument.
  if (!graphs_.empty()) {
    sync();
    clear_graphs();
  }
}

void CudaBackend::build_nodes() {
  int64_t bn_cols = 0;
  bn_stats_.clear();
  for (const DenseLayerShape& s : layers_) {
    const bool bn = s.kind == NodeKind::kBatchNorm;
    bn_stats_.emplace_back(bn ? static_cast<std::size_t>(3 * s.fan_out) : 0, "batch-norm statistics");
    if (bn) bn_cols = std::max(bn_cols, s.fan_out);
  }
  bn_sums_ = DeviceBuffer<float>();
  cudnn_bn_.reset();
  // The fused kernels' scratch on both paths: the cuDNN path hands batches
  // of one row to them too (see enqueue_node_forward).
  if (bn_cols > 0) {
    bn_sums_ = DeviceBuffer<float>(static_cast<std::size_t>(batch_norm_backward_scratch_size(bn_cols)),
                                   "batch-norm backward sums");
  }
  if (bn_cols > 0 && bn_path_ == BatchNormPath::kCudnn) {
    cudnn_bn_ = std::make_unique<CudnnBatchNorm>(max_batch_, bn_cols);
    // Its constructor fills its constants with synchronous calls on the
    // default stream; make sure they are done before stream_ reads them.
    GRAFT_CUDA_CHECK(cudaDeviceSynchronize());
  }
  infer_walk_ = forward_walk(layout_, nullptr, 0, static_cast<int>(layers_.size()) - 1);
}

namespace {

BatchNormTensors bn_tensors(const ParameterLayout& layout, float* params, float* stats, int node, int64_t cols) {
  auto at = [&](ParamRole role) {
    const int i = layout.find(node, role);
    return i < 0 ? nullptr : params + layout[i].offset;
  };
  BatchNormTensors t;
  t.gamma = at(ParamRole::kGamma);
  t.beta = at(ParamRole::kBeta);
  t.moving_mean = at(ParamRole::kMovingMean);
  t.moving_var = at(ParamRole::kMovingVariance);
  t.batch_mean = stats;
  t.batch_var = stats + cols;
  t.rstd = stats + 2 * cols;
  return t;
}

}  // namespace

void CudaBackend::enqueue_node_forward(const NodeForward& f, const float* x, float* out, int64_t n) {
  const int l = f.node;
  const DenseLayerShape& s = layers_[static_cast<std::size_t>(l)];
  const int64_t cols = s.fan_out;
  switch (f.form) {
    case NodeForm::kDense:
      throw Error("cuda backend: enqueue_node_forward on dense node " + std::to_string(l));
    case NodeForm::kBatchNormBatch:
    case NodeForm::kBatchNormMoving: {
      NvtxRange range("graft.batch_norm");
      const BatchNormTensors t = bn_tensors(layout_, params_.get(), bn_stats_[static_cast<std::size_t>(l)].get(), l, cols);
      const BatchNormAttrs& a = s.batch_norm;
      if (f.form == NodeForm::kBatchNormBatch) {
        // One row: cuDNN's unbiased batch variance divides by rows - 1 = 0;
        // graft's kernels give TF's result (variance 0, y = act(beta)).
        if (cudnn_bn_ && n > 1) {
          cudnn_bn_->forward_train(x, n, cols, t.gamma, t.beta, a.epsilon, s.activation, out, t.batch_mean,
                                   t.batch_var, t.rstd, stream_);
        } else {
          batch_norm_forward_train(x, n, cols, t.gamma, t.beta, a.epsilon, s.activation, out, t.batch_mean,
                                   t.batch_var, t.rstd, stream_);
        }
        // Biased variance (nn.moments), as the CPU: host/cpu/node_ops.h.
        batch_norm_update_moving(t.moving_mean, t.moving_var, t.batch_mean, t.batch_var, n, cols, a.momentum,
                                 /*bessel_correction=*/false, stream_);
      } else if (cudnn_bn_) {
        cudnn_bn_->forward_infer(x, n, cols, t.gamma, t.beta, t.moving_mean, t.moving_var, a.epsilon, s.activation,
                                 out, stream_);
      } else {
        batch_norm_forward_infer(x, n, cols, t.gamma, t.beta, t.moving_mean, t.moving_var, a.epsilon, s.activation,
                                 out, stream_);
      }
      return;
    }
    case NodeForm::kDropoutMask: {
      NvtxRange range("graft.dropout");
      dropout_forward(x, n, cols, s.rate, dropout_seed(), device_step(), static_cast<uint32_t>(l), out, stream_);
      return;
    }
    case NodeForm::kDropoutIdentity:
      if (out != x) {
        GRAFT_CUDA_CHECK(cudaMemcpyAsync(out, x, static_cast<std::size_t>(n * cols) * sizeof(float),
                                         cudaMemcpyDeviceToDevice, stream_));
      }
      return;
  }
}

void CudaBackend::enqueue_node_backward(const NodeBackward& b, const float* x, int64_t n) {
  const int l = b.node;
  const DenseLayerShape& s = layers_[static_cast<std::size_t>(l)];
  const int64_t cols = s.fan_out;
  const float* dy = dgrad_[static_cast<std::size_t>(l)].get();
  float* dx = b.input_grad ? dgrad_[static_cast<std::size_t>(l) - 1].get() : nullptr;
  switch (b.form) {
    case NodeForm::kDense:
      throw Error("cuda backend: enqueue_node_backward on dense node " + std::to_string(l));
    case NodeForm::kDropoutMask:
      if (dx) {
        NvtxRange range("graft.dropout_backward");
        dropout_backward(dy, n, cols, s.rate, dropout_seed(), device_step(), static_cast<uint32_t>(l), dx, stream_);
      }
      return;
    case NodeForm::kDropoutIdentity:
      if (dx) {
        GRAFT_CUDA_CHECK(cudaMemcpyAsync(dx, dy, static_cast<std::size_t>(n * cols) * sizeof(float),
                                         cudaMemcpyDeviceToDevice, stream_));
      }
      return;
    case NodeForm::kBatchNormBatch:
    case NodeForm::kBatchNormMoving: {
      NvtxRange range("graft.batch_norm_backward");
      const BatchNormTensors t = bn_tensors(layout_, params_.get(), bn_stats_[static_cast<std::size_t>(l)].get(), l, cols);
      const float* y = act_[static_cast<std::size_t>(l)].get();
      float* dgamma = b.grad_kernel >= 0 ? grad_ptr(b.grad_kernel) : nullptr;
      float* dbeta = b.grad_bias >= 0 ? grad_ptr(b.grad_bias) : nullptr;
      const float eps = s.batch_norm.epsilon;
      if (b.form == NodeForm::kBatchNormMoving) {
        batch_norm_backward_infer(dy, y, s.activation, x, t.moving_mean, t.moving_var, t.gamma, eps, n, cols, dx,
                                  dgamma, dbeta, stream_);
      } else if (cudnn_bn_ && n > 1) {  // the forward's choice
        cudnn_bn_->backward(dy, y, s.activation, x, t.batch_mean, t.rstd, t.gamma, n, cols, eps, dx, dgamma, dbeta,
                            stream_);
      } else {
        batch_norm_backward(dy, y, s.activation, x, t.batch_mean, t.rstd, t.gamma, n, cols, dx, dgamma, dbeta,
                            bn_sums_.get(), stream_);
      }
      return;
    }
  }
}

}  // namespace graft::cuda
