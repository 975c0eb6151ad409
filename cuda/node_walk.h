#pragma once
// The CUDA backend's node walk, as data: for a step plan (host/step_plan.h),
// which form each node's kernels run in, forward and backward, which
// gradients they write, and which parameter ranges the update touches; and
// which networks the graph path can run at all. Plain C++ with no CUDA
// header, like cuda/fused/plan.h: the backend walks these lists
// (cuda/cuda_backend_steps.cc, cuda/cuda_backend_nodes.cc) and
// tests/host/cuda_node_walk_test.cc checks them against the step plan and
// the parameter table in every build, GPU or not.
//
// The forms mirror the CPU backend's node ops (host/cpu/node_ops.h):
//   dense               GEMM, bias + activation (backward: activation and
//                       bias gradient, dW on the side stream, dX)
//   batch norm [batch]  the batch's statistics, then the moving averages
//                       updated by TF's rule (a training-form node)
//   batch norm [moving] the moving statistics (eval, the frozen prefix, a
//                       frozen batch norm); backward through the fixed affine map
//   dropout [on]        the counter-RNG mask at (seed, step, node, row,
//                       column), the step read from the device state
//   dropout [off]       the identity (a copy into the node's output)
#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "host/backend.h"
#include "host/model/parameter_layout.h"
#include "host/step_plan.h"

namespace graft::cuda {

enum class NodeForm { kDense, kBatchNormBatch, kBatchNormMoving, kDropoutMask, kDropoutIdentity };

inline const char* node_form_name(NodeForm form) {
  switch (form) {
    case NodeForm::kDense: return "dense";
    case NodeForm::kBatchNormBatch: return "batch_norm[batch]";
    case NodeForm::kBatchNormMoving: return "batch_norm[moving]";
    case NodeForm::kDropoutMask: return "dropout[on]";
    case NodeForm::kDropoutIdentity: return "dropout[off]";
  }
  return "?";
}

inline NodeForm node_form(NodeKind kind, bool train) {
  switch (kind) {
    case NodeKind::kDense: return NodeForm::kDense;
    case NodeKind::kBatchNorm: return train ? NodeForm::kBatchNormBatch : NodeForm::kBatchNormMoving;
    case NodeKind::kDropout: return train ? NodeForm::kDropoutMask : NodeForm::kDropoutIdentity;
  }
  return NodeForm::kDense;
}

struct NodeForward {
  int node = 0;
  NodeForm form = NodeForm::kDense;
};

// Nodes first .. last of the layout in the forms `plan` gives them (its
// forward list starts at plan->first_node <= first); plan null: every node
// in inference form (evaluate, forward_prefix: the frozen-layer cache).
inline std::vector<NodeForward> forward_walk(const ParameterLayout& layout, const StepPlan* plan, int first,
                                             int last) {
  std::vector<NodeForward> walk;
  for (int n = first; n <= last; ++n) {
    bool train = false;
    if (plan != nullptr) {
      const int i = n - plan->first_node;
      train = i >= 0 && i < static_cast<int>(plan->forward.size()) &&
              plan->forward[static_cast<std::size_t>(i)].train;
    }
    walk.push_back({n, node_form(layout.kind(n), train)});
  }
  return walk;
}

struct NodeBackward {
  int node = 0;
  NodeForm form = NodeForm::kDense;
  // Gradients written, as parameter indices (-1: none). Dense: the kernel
  // when the plan wants dW; the bias always (its gradient comes with the
  // activation backward at no extra cost, and a frozen bias is not in the
  // update). Batch norm: gamma (dgamma) and beta (dbeta) when the plan wants
  // them; never the moving statistics. Dropout: none.
  int grad_kernel = -1;  // dense kernel or batch norm gamma
  int grad_bias = -1;    // dense bias or batch norm beta
  bool input_grad = false;  // writes d loss / d output of node - 1
};

// The plan's backward list, top node first.
inline std::vector<NodeBackward> backward_walk(const ParameterLayout& layout, const StepPlan& plan) {
  std::vector<NodeBackward> walk;
  for (const PlannedBackward& b : plan.backward) {
    NodeBackward w;
    w.node = b.node;
    w.form = node_form(b.kind, b.train);
    w.input_grad = b.input_grad;
    if (b.kind == NodeKind::kDense) {
      w.grad_kernel = b.kernel_grad ? layout.kernel(b.node) : -1;
      w.grad_bias = layout.bias(b.node);
    } else if (b.kind == NodeKind::kBatchNorm) {
      w.grad_kernel = b.kernel_grad ? layout.find(b.node, ParamRole::kGamma) : -1;
      w.grad_bias = b.bias_grad ? layout.find(b.node, ParamRole::kBeta) : -1;
    }
    walk.push_back(w);
  }
  return walk;
}

// (offset, count) of every parameter the step's update applies to (and the
// global norm sums over): trainable, optimized (never batch norm's moving
// statistics: their op updates them; no gradient, no slot, no clipping),
// on a node >= first_layer. In parameter order.
inline std::vector<std::pair<int64_t, int64_t>> update_ranges(const ParameterLayout& layout,
                                                              const std::vector<bool>& trainable,
                                                              int first_layer) {
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (int i = 0; i < layout.size(); ++i) {
    const ParamSlot& p = layout[i];
    if (trainable[static_cast<std::size_t>(i)] && role_optimized(p.role) && p.node >= first_layer) {
      ranges.emplace_back(p.offset, p.count);
    }
  }
  return ranges;
}

// Batch norm's implementation on the graph path (cuda/batch_norm.h): cuDNN,
// graft's own fused kernels, or auto (the default; resolve_batch_norm_path).
// GRAFT_CUDA_BATCH_NORM.
enum class BatchNormPath { kAuto, kCudnn, kFused };

inline bool parse_batch_norm_path(const std::string& text, BatchNormPath* out) {
  if (text == "auto") {
    *out = BatchNormPath::kAuto;
  } else if (text == "cudnn") {
    *out = BatchNormPath::kCudnn;
  } else if (text == "fused") {
    *out = BatchNormPath::kFused;
  } else {
    return false;
  }
  return true;
}

inline std::string short_number(double v) {
  std::ostringstream out;
  out << v;  // 1e-06, 0.5
  return out.str();
}

// The path build() takes for `layers`. auto: cuDNN where this build links it
// and every batch norm's epsilon is at least cuDNN's minimum, else graft's
// fused kernels, which run any batch norm: a build without cuDNN, or a
// model with epsilon 1e-6, still trains without a flag. Which of the two is
// faster has not been measured on a GPU yet (docs/cuda-backend.md); cuDNN is
// auto's first choice because the issue asks for it where it is as fast.
inline BatchNormPath resolve_batch_norm_path(const std::vector<DenseLayerShape>& layers, BatchNormPath requested,
                                             bool cudnn_in_build, double cudnn_min_epsilon) {
  if (requested != BatchNormPath::kAuto) return requested;
  if (!cudnn_in_build) return BatchNormPath::kFused;
  for (const DenseLayerShape& s : layers) {
    if (s.kind == NodeKind::kBatchNorm && !(static_cast<double>(s.batch_norm.epsilon) >= cudnn_min_epsilon)) {
      return BatchNormPath::kFused;
    }
  }
  return BatchNormPath::kCudnn;
}

// "" when the graph path runs every node of `layers`, else why not, in one
// line naming the node and what to pass instead. cudnn_in_build: this build
// links cuDNN (cudnn_compiled_in()); cudnn_min_epsilon: cuDNN's
// CUDNN_BN_MIN_EPSILON.
inline std::string node_support_error(const std::vector<DenseLayerShape>& layers, BatchNormPath path,
                                      bool cudnn_in_build, double cudnn_min_epsilon) {
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const DenseLayerShape& s = layers[l];
    const std::string node = std::string(node_kind_name(s.kind)) + " node " + std::to_string(l);
    if (s.kind != NodeKind::kDense && s.fan_in != s.fan_out) {
      return "cuda backend: " + node + " changes the width (" + std::to_string(s.fan_in) + " -> " +
             std::to_string(s.fan_out) + ")";
    }
    if (s.kind == NodeKind::kDropout && !(s.rate >= 0.0f && s.rate < 1.0f)) {
      return "cuda backend: " + node + " has dropout rate " + short_number(s.rate) + ", outside [0, 1)";
    }
    if (s.kind != NodeKind::kBatchNorm || path != BatchNormPath::kCudnn) continue;
    if (!cudnn_in_build) {
      return "cuda backend: " + node +
             " runs on cuDNN, which this build does not link (reconfigure with -DGRAFT_WITH_CUDNN=ON and cuDNN "
             "installed), or pass --cuda-batch-norm fused (GRAFT_CUDA_BATCH_NORM=fused) for graft's own kernels, or use "
             "--device cpu";
    }
    if (!(static_cast<double>(s.batch_norm.epsilon) >= cudnn_min_epsilon)) {
      return "cuda backend: " + node + " has epsilon " + short_number(s.batch_norm.epsilon) +
             ", below cuDNN's minimum " + short_number(cudnn_min_epsilon) +
             "; pass --cuda-batch-norm fused (GRAFT_CUDA_BATCH_NORM=fused) for graft's own kernels, or use "
             "--device cpu";
    }
  }
  return "";
}

}  // namespace graft::cuda
