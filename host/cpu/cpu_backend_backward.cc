// The CPU backend's training step: gather the batch, forward and loss,
// backward as the step plan says (dense nodes with their parallel GEMM
// schedule, batch norm, dropout), clipping by global norm, max-norm.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "checkpoint/error.h"
#include "host/backend.h"
#include "host/cpu/cpu_backend_internal.h"
#include "host/cpu/cpu_dataset.h"
#include "host/cpu/float_mode.h"
#include "host/cpu/node_ops.h"
#include "host/cpu/reference_kernels.h"
#include "host/cpu/regularization.h"
#include "host/cpu/sgemm.h"
#include "host/cpu/thread_team.h"
#include "host/math/clip_math.h"
#include "host/math/optimizer_math.h"
#include "host/step_plan.h"

namespace graft::cpu_backend_detail {

void CpuBackend::train_step(const DeviceDataset& data, int64_t begin, int64_t n, int first_layer) {
  require_built();
  const cpu::ScopedFlushDenormals tf_float_mode;
  const CpuDataset& d = as_cpu(data);
  check_input_cols(d, first_layer, "train_step");
  if (n <= 0 || n > max_batch_ || begin < 0 || begin + n > d.rows()) {
    throw Error("cpu backend: train_step on rows [" + std::to_string(begin) + ", " + std::to_string(begin + n) +
                ") of " + std::to_string(d.rows()) + " (max batch " + std::to_string(max_batch_) + ")");
  }
  const int num_layers = static_cast<int>(layers_.size());
  const int64_t cols = d.cols();

  // 1. Gather the batch's rows and labels once.
  const uint32_t* order = d.order.data() + begin;
  for (int64_t i = 0; i < n; ++i) labels_[i] = d.labels[order[i]];
  if (team_.size() > 1 && n * cols >= kParallelElements) {
    team_.run([&](int part, int parts) {
      const Range r = split_range(n, part, parts);
      cpu::gather_rows(d.features.data(), order + r.begin, input_.data() + r.begin * cols, r.size(), cols);
    });
  } else {
    cpu::gather_rows(d.features.data(), order, input_.data(), n, cols);
  }

  // 2. Forward and loss; dlogits land in delta_ of the last layer.
  const StepPlan& plan = step_plan(first_layer);
  forward_loss(input_.data(), labels_.data(), first_layer, n, delta_[num_layers - 1].data(), &totals_.loss_sum,
               &totals_.correct, &plan);
  totals_.samples += n;
  // The batch's loss includes the penalty of the weights it ran with (TF's
  // total loss: cross-entropy + get_regularization_loss()).
  if (regularizer_.penalizes()) totals_.loss_sum += static_cast<double>(n) * regularizer_.penalty(flat_params_.data(), team_);

  // 3. Backward as the step plan says: down to the lowest layer with a
  // trainable parameter, each gradient only where it is needed.
  const int lowest = plan.lowest_trainable;
  const bool clip_norm = plan.global_norm;
  for (const PlannedBackward& b : plan.backward) {
    const int l = b.node;
    const DenseLayerShape& s = layers_[l];
    if (b.kind != NodeKind::kDense) {
      other_node_backward(b, first_layer, n, plan.fused_updates);
      continue;
    }
    activation_backward(l, n);
    const float* x = l == first_layer ? input_.data() : act_[l - 1].data();
    const bool kernel_grad = b.kernel_grad;
    const bool input_grad = b.input_grad;
    const bool fused_update = kernel_grad && plan.fused_updates;
    float* w = params_[layout_.kernel(l)].data();
    float* dw = grads_[layout_.kernel(l)].data();
    // The thread that owns kernel rows [m0, m1) computes dW rows [m0, m1) and
    // input-gradient columns [m0, m1) (which read only those rows of W), then
    // updates those rows.
    auto job = [&](int part, int parts) {
      const Range m = split_range(s.fan_in, part, parts, 16);
      if (kernel_grad) {
        gemm(true, false, m.size(), s.fan_out, n, x + m.begin, s.fan_in, delta_[l].data(), s.fan_out,
             dw + m.begin * s.fan_out, s.fan_out);
        regularizer_.add_gradient(layout_.kernel(l), flat_params_.data(), flat_grads_.data(), m.begin * s.fan_out,
                                  m.end * s.fan_out);
      }
      if (input_grad) {
        gemm(false, true, n, m.size(), s.fan_out, delta_[l].data(), s.fan_out, w + m.begin * s.fan_out,
             s.fan_out, delta_[l - 1].data() + m.begin, s.fan_in);
      }
      if (fused_update) update_range(layout_.kernel(l), m.begin * s.fan_out, m.end * s.fan_out, 1.0f);
    };
    const double flops = 2.0 * n * s.fan_in * s.fan_out * ((kernel_grad ? 1 : 0) + (input_grad ? 1 : 0));
    if (team_.size() > 1 && flops >= kParallelGemmFlops) {
      team_.run(job);
    } else {
      job(0, 1);
    }
    if (b.bias_grad) regularizer_.add_gradient(layout_.bias(l), flat_params_.data(), flat_grads_.data(), 0, s.fan_out);
    if (b.bias_grad && plan.fused_updates) update_range(layout_.bias(l), 0, s.fan_out, 1.0f);
  }

  // 4. The exchange point: every gradient exists (one device: nothing to do).
  exchange_gradients();

  // 5. Clipping by global norm: every gradient first, then the update.
  if (clip_norm && lowest >= 0) {
    double squares = 0.0;
    // Optimized parameters of the nodes the step trains, in index order.
    auto trained = [&](int i) { return trainable_[i] && role_optimized(layout_[i].role) && layout_[i].node >= lowest; };
    for (int i = 0; i < num_params(); ++i) {
      if (trained(i)) squares += cpu::sum_of_squares(grads_[i].data(), grads_[i].size());
    }
    const double norm = std::sqrt(squares);
    const float scale = math::global_norm_scale(optimizer_.clip_norm, norm);
    for (int i = 0; i < num_params(); ++i) {
      if (trained(i)) update_whole(i, scale);
    }
  }

  // 5. Max-norm of the kernels just updated (tf.clip_by_norm after the train op).
  if (regularizer_.clips_by_norm()) {
    for (const PlannedBackward& b : plan.backward) {
      // A batch norm's kernel_grad is its dgamma: max-norm is for dense kernels.
      if (b.kind == NodeKind::kDense && b.kernel_grad) {
        regularizer_.clip_kernel(layout_.kernel(b.node), flat_params_.data(), team_);
      }
    }
  }

  scalars_.step += 1;
  if (optimizer_.kind == OptimizerKind::kAdam) {
    math::advance_beta_powers(math::optimizer_hyper(optimizer_), scalars_.beta1_power,
                              scalars_.beta2_power);
  }
}

// delta_[l] *= act'(act_[l]) and layer l's bias gradient = column sums.
void CpuBackend::activation_backward(int l, int64_t n) {
  const DenseLayerShape& s = layers_[l];
  float* bias_grad = grads_[layout_.bias(l)].data();
  if (team_.size() > 1 && n * s.fan_out >= kParallelElements) {
    team_.run([&](int part, int parts) {
      const Range r = split_range(n, part, parts, 8);
      cpu::activation_backward_bias_grad(delta_[l].data() + r.begin * s.fan_out,
                                         act_[l].data() + r.begin * s.fan_out, bias_partial_[part].data(),
                                         r.size(), s.fan_out, s.activation);
    });
    std::fill(bias_grad, bias_grad + s.fan_out, 0.0f);
    for (int t = 0; t < team_.size(); ++t) {
      for (int64_t c = 0; c < s.fan_out; ++c) bias_grad[c] += bias_partial_[t][c];
    }
  } else {
    cpu::activation_backward_bias_grad(delta_[l].data(), act_[l].data(), bias_grad, n, s.fan_out,
                                       s.activation);
  }
}

float* CpuBackend::grad_ptr(int l, ParamRole role, bool wanted) {
  const int i = layout_.find(l, role);
  return wanted && i >= 0 ? grads_[static_cast<std::size_t>(i)].data() : nullptr;
}

// Backward through a batch-norm or dropout node: delta_[l] (d loss / d its
// output) to delta_[l - 1] when the plan wants dX, and gamma/beta's
// gradients (updated right away when the updates are fused).
void CpuBackend::other_node_backward(const PlannedBackward& b, int first_layer, int64_t n, bool fused_updates) {
  const int l = b.node;
  const DenseLayerShape& s = layers_[l];
  float* dx = b.input_grad ? delta_[l - 1].data() : nullptr;
  if (s.kind == NodeKind::kDropout) {
    if (dx) {
      cpu::dropout_backward(delta_[l].data(), dx, n, s, b.train, dropout_seed(), static_cast<uint64_t>(scalars_.step),
                            static_cast<uint32_t>(l));
    }
    return;
  }
  const float* x = l == first_layer ? input_.data() : act_[l - 1].data();
  cpu::batch_norm_backward(delta_[l].data(), act_[l].data(), x, n, s, b.train, bn_tensors(l), dx,
                           grad_ptr(l, ParamRole::kGamma, b.kernel_grad), grad_ptr(l, ParamRole::kBeta, b.bias_grad));
  if (fused_updates) {
    if (b.kernel_grad) update_range(layout_.find(l, ParamRole::kGamma), 0, s.fan_out, 1.0f);
    if (b.bias_grad) update_range(layout_.find(l, ParamRole::kBeta), 0, s.fan_out, 1.0f);
  }
}

}  // namespace graft::cpu_backend_detail
