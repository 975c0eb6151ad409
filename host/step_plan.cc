#include "host/step_plan.h"

#include "checkpoint/error.h"

namespace graft {

StepPlan plan_step(const std::vector<bool>& trainable, int first_node, bool clip_by_global_norm) {
  if (trainable.empty() || trainable.size() % 2 != 0) {
    throw Error("step plan: " + std::to_string(trainable.size()) + " trainable flags for a dense stack (2 per node)");
  }
  StepPlan plan;
  plan.num_nodes = static_cast<int>(trainable.size() / 2);
  if (first_node < 0 || first_node >= plan.num_nodes) {
    throw Error("step plan: first node " + std::to_string(first_node) + " of " + std::to_string(plan.num_nodes));
  }
  plan.first_node = first_node;
  plan.global_norm = clip_by_global_norm;
  plan.fused_updates = !clip_by_global_norm;
  for (int n = first_node; n < plan.num_nodes && plan.lowest_trainable < 0; ++n) {
    if (trainable[2 * n] || trainable[2 * n + 1]) plan.lowest_trainable = n;
  }
  for (int n = plan.num_nodes - 1; plan.lowest_trainable >= 0 && n >= plan.lowest_trainable; --n) {
    PlannedBackward b;
    b.node = n;
    b.kernel_grad = trainable[2 * n];
    b.bias_grad = trainable[2 * n + 1];
    b.input_grad = n > plan.lowest_trainable;
    plan.backward.push_back(b);
  }
  return plan;
}

std::string StepPlan::describe(const std::vector<std::string>& node_names) const {
  auto name = [&](int n) {
    return n < static_cast<int>(node_names.size()) ? node_names[static_cast<std::size_t>(n)] : std::to_string(n);
  };
  std::string text = "step plan:\n  forward:";
  for (int n = first_node; n < num_nodes; ++n) text += " " + name(n);
  if (first_node > 0) text += " (from " + name(first_node) + ": the nodes below are not run)";
  text += "\n  loss: sparse softmax cross-entropy\n  backward:";
  if (backward.empty()) text += " none (nothing is trainable)";
  for (const PlannedBackward& b : backward) {
    std::string grads;
    if (b.kernel_grad) grads += "dW";
    if (b.bias_grad) grads += std::string(grads.empty() ? "" : ",") + "db";
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
