#include "host/step_plan.h"

#include "checkpoint/error.h"
#include "host/backend.h"
#include "host/model/op_table.h"

namespace graft {

const char* mode_name(Mode mode) { return mode == Mode::kTrain ? "train" : "eval"; }

StepPlan plan_step(const std::vector<bool>& trainable, int first_node, bool clip_by_global_norm) {
  if (trainable.empty() || trainable.size() % 2 != 0) {
    throw Error("step plan: " + std::to_string(trainable.size()) + " trainable flags for a dense stack (2 per node)");
  }
  // Only the numbering (node, role) of the layout is used; the shapes are placeholders.
  const std::vector<DenseLayerShape> nodes(trainable.size() / 2, DenseLayerShape{1, 1, Activation{}});
  return plan_step(parameter_layout(nodes), trainable, first_node, clip_by_global_norm);
}

StepPlan plan_step(const ParameterLayout& layout, const std::vector<bool>& trainable, int first_node,
                   bool clip_by_global_norm, Mode mode) {
  if (static_cast<int>(trainable.size()) != layout.size() || layout.num_nodes() == 0) {
    throw Error("step plan: " + std::to_string(trainable.size()) + " trainable flags for " +
                std::to_string(layout.size()) + " parameters");
  }
  StepPlan plan;
  plan.mode = mode;
  plan.num_nodes = layout.num_nodes();
  if (first_node < 0 || first_node >= plan.num_nodes) {
    throw Error("step plan: first node " + std::to_string(first_node) + " of " + std::to_string(plan.num_nodes));
  }
  plan.first_node = first_node;
  auto param = [&](int node, ParamRole role) { return layout.find(node, role); };
  auto is_trainable = [&](int node, ParamRole role) {
    const int i = param(node, role);
    return i >= 0 && trainable[static_cast<std::size_t>(i)];
  };
  if (mode == Mode::kTrain) {
    for (int i = 0; i < layout.size(); ++i) {
      const ParamSlot& p = layout[i];
      if (p.node < first_node || !trainable[static_cast<std::size_t>(i)]) continue;
      if (role_optimized(p.role) && (plan.lowest_trainable < 0 || p.node < plan.lowest_trainable)) {
        plan.lowest_trainable = p.node;
      }
      if (plan.lowest_active < 0 || p.node < plan.lowest_active) plan.lowest_active = p.node;
    }
  }
  for (int n = first_node; n < plan.num_nodes; ++n) {
    PlannedForward f;
    f.node = n;
    f.kind = layout.kind(n);
    const bool above_prefix = plan.lowest_active >= 0 && n >= plan.lowest_active;
    if (mode == Mode::kTrain && above_prefix) {
      if (f.kind == NodeKind::kBatchNorm) f.train = is_trainable(n, ParamRole::kMovingMean);
      if (f.kind == NodeKind::kDropout) f.train = true;
    }
    plan.forward.push_back(f);
  }
  plan.phases = {StepPhase::kForward, StepPhase::kLoss};
  if (mode == Mode::kEval) return plan;
  plan.global_norm = clip_by_global_norm;
  plan.fused_updates = !clip_by_global_norm;
  for (int n = plan.num_nodes - 1; plan.lowest_trainable >= 0 && n >= plan.lowest_trainable; --n) {
    PlannedBackward b;
    b.node = n;
    b.kind = layout.kind(n);
    b.train = plan.forward[static_cast<std::size_t>(n - first_node)].train;
    if (b.kind == NodeKind::kDense) {
      b.kernel_grad = is_trainable(n, ParamRole::kKernel);
      b.bias_grad = is_trainable(n, ParamRole::kBias);
    } else if (b.kind == NodeKind::kBatchNorm) {
      b.kernel_grad = is_trainable(n, ParamRole::kGamma);
      b.bias_grad = is_trainable(n, ParamRole::kBeta);
    }
    b.input_grad = n > plan.lowest_trainable;
    plan.backward.push_back(b);
  }
  plan.phases.push_back(StepPhase::kBackward);
  plan.phases.push_back(StepPhase::kExchange);
  plan.phases.push_back(StepPhase::kUpdate);
  return plan;
}

bool StepPlan::has_mode_dependent_nodes() const {
  for (const PlannedForward& f : forward) {
    if (op_info(f.kind).train_differs_from_eval) return true;
  }
  return false;
}

std::string StepPlan::describe(const std::vector<std::string>& node_names) const {
  auto name = [&](int n) {
    return n < static_cast<int>(node_names.size()) ? node_names[static_cast<std::size_t>(n)] : std::to_string(n);
  };
  const bool eval = mode == Mode::kEval;
  std::string text = eval ? "step plan (eval):\n" : "step plan:\n";
  // A dense stack behaves the same in both modes: its plan prints as it always did.
  if (has_mode_dependent_nodes()) {
    text += std::string("  mode: ") + mode_name(mode) +
            (eval ? " (batch norm: moving statistics; dropout: identity)"
                  : " (batch norm [batch]: batch statistics, moving averages updated; [moving]: moving statistics; "
                    "dropout [on]: masked, [off]: identity)") +
            "\n";
  }
  text += "  forward:";
  for (const PlannedForward& f : forward) {
    text += " " + name(f.node);
    if (f.kind == NodeKind::kBatchNorm) text += f.train ? "[batch]" : "[moving]";
    if (f.kind == NodeKind::kDropout) text += f.train ? "[on]" : "[off]";
  }
  if (first_node > 0) text += " (from " + name(first_node) + ": the nodes below are not run)";
  text += "\n  loss: sparse softmax cross-entropy";
  if (eval) return text + " (no gradients)\n";
  text += "\n  backward:";
  if (backward.empty()) text += " none (nothing is trainable)";
  for (const PlannedBackward& b : backward) {
    std::string grads;
    const char* param_grads[2] = {b.kind == NodeKind::kBatchNorm ? "dgamma" : "dW",
                                  b.kind == NodeKind::kBatchNorm ? "dbeta" : "db"};
    if (b.kernel_grad) grads += param_grads[0];
    if (b.bias_grad) grads += std::string(grads.empty() ? "" : ",") + param_grads[1];
    if (b.input_grad) grads += std::string(grads.empty() ? "" : ",") + "dX";
    text += " " + name(b.node) + "(" + (grads.empty() ? std::string("-") : grads) + ")";
  }
  text += "\n  exchange: none (one device)\n  update: ";
  if (backward.empty()) {
    text += "none";
  } else if (fused_updates) {
    text += "each trainable parameter right after its gradient";
  } else {
    text += "after every gradient, scaled by the global norm clip";
  }
  return text + "\n";
}

}  // namespace graft
