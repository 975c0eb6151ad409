#pragma once
// The step plan: what one training step does, as data, computed once per
// (first node, trainable set, clipping mode) and walked by the backends —
// like the restore plan, it is printed (`graft train --dry-run`) and tested
// without any backend.
//
//   forward    nodes first_node .. last, in order (train mode)
//   loss       sparse softmax cross-entropy on the last node's outputs
//   backward   from the last node down to the lowest node with a trainable
//              parameter: per node, which gradients are needed (kernel,
//              bias, and the input gradient, which the node below needs)
//   exchange   where gradients are complete and could be exchanged between
//              devices (data-parallel training); nothing is exchanged today
//   update     the optimizer step for every trainable parameter: fused into
//              the backward pass (each parameter updated right after its
//              gradient, while the data is hot), or after the exchange when
//              a global quantity is needed first (clipping by global norm)
#include <string>
#include <vector>

namespace graft {

struct PlannedBackward {
  int node = 0;
  bool kernel_grad = false;  // dW needed (the kernel is trainable)
  bool bias_grad = false;    // db needed
  bool input_grad = false;   // dX needed (a node below needs it)
};

struct StepPlan {
  int first_node = 0;                     // nodes below it are not run (the frozen-layer cache holds their outputs)
  int num_nodes = 0;
  std::vector<PlannedBackward> backward;  // top node first; empty when nothing is trainable
  // Updates are fused into the backward pass (no exchange, no global norm);
  // otherwise every gradient is computed first, then exchanged, then applied.
  bool fused_updates = true;
  bool global_norm = false;               // clip by global norm before the updates
  int lowest_trainable = -1;              // lowest node >= first_node with a trainable parameter; -1 if none

  bool trains_anything() const { return lowest_trainable >= 0; }
  // The printed form (graft train --dry-run), one line per phase.
  std::string describe(const std::vector<std::string>& node_names) const;
};

// trainable[2 n] / trainable[2 n + 1]: node n's kernel / bias (the dense
// stack's parameter numbering). Throws graft::Error for a first_node
// outside [0, nodes) or a trainable list of the wrong size.
StepPlan plan_step(const std::vector<bool>& trainable, int first_node, bool clip_by_global_norm);

}  // namespace graft
