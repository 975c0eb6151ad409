#pragma once
// The step plan: what one training step (or one evaluation pass) does, as
// data, computed once per (first node, trainable set, clipping mode, mode)
// and walked by the backends — like the restore plan, it is printed (`graft
// train --dry-run`) and tested without any backend.
//
//   mode       train or eval, explicit: batch norm and dropout behave
//              differently (op table, train_differs_from_eval)
//   forward    nodes first_node .. last, in order; per node whether it runs
//              in training form: batch norm with the batch's statistics
//              (and its moving averages updated), dropout with a mask.
//              In eval, and in training for the frozen prefix (the nodes
//              below the lowest node with anything to train or update, what
//              the frozen-layer cache computes once), every node runs in
//              inference form: batch norm with its moving statistics,
//              dropout as the identity. A frozen batch norm (its moving
//              statistics frozen) also runs in inference form: the Keras
//              rule; TF1's behaviour keeps its statistics trainable.
//   loss       sparse softmax cross-entropy on the last node's outputs
//   backward   (train) from the last node down to the lowest node with an
//              optimized trainable parameter: per node, which gradients are
//              needed (dense: kernel, bias; batch norm: gamma, beta; and the
//              input gradient, which the node below needs)
//   exchange   where gradients are complete and could be exchanged between
//              devices (data-parallel training): Backend::exchange_gradients,
//              which does nothing on one device
//   update     the optimizer step for every trainable optimized parameter:
//              fused into the backward pass (each parameter updated right
//              after its gradient, while the data is hot), or after the
//              exchange when a global quantity is needed first (clipping by
//              global norm)
#include <string>
#include <vector>

#include "host/model/parameter_layout.h"

namespace graft {

enum class Mode { kTrain, kEval };
const char* mode_name(Mode mode);  // "train", "eval"

struct PlannedForward {
  int node = 0;
  NodeKind kind = NodeKind::kDense;
  // Training form: batch norm normalises with the batch's statistics and
  // updates its moving averages; dropout draws its mask. false: inference form.
  bool train = false;
};

struct PlannedBackward {
  int node = 0;
  NodeKind kind = NodeKind::kDense;
  bool kernel_grad = false;  // dense: dW needed (the kernel is trainable); batch norm: dgamma
  bool bias_grad = false;    // dense: db; batch norm: dbeta
  bool input_grad = false;   // dX needed (a node below needs it)
  bool train = false;        // the node ran in training form (batch norm: through the batch statistics)
};

// The phases of a training step, in order (an eval pass: forward, loss).
enum class StepPhase { kForward, kLoss, kBackward, kExchange, kUpdate };

struct StepPlan {
  Mode mode = Mode::kTrain;
  int first_node = 0;                     // nodes below it are not run (the frozen-layer cache holds their outputs)
  int num_nodes = 0;
  std::vector<PlannedForward> forward;    // first_node .. num_nodes - 1
  std::vector<PlannedBackward> backward;  // top node first; empty when nothing is trainable (and in eval)
  std::vector<StepPhase> phases;
  // Updates are fused into the backward pass (no exchange, no global norm);
  // otherwise every gradient is computed first, then exchanged, then applied.
  bool fused_updates = true;
  bool global_norm = false;               // clip by global norm before the updates
  int lowest_trainable = -1;              // lowest node >= first_node with a trainable optimized parameter; -1 if none
  int lowest_active = -1;                 // lowest node >= first_node with anything trainable or op-updated; -1 if none

  bool trains_anything() const { return lowest_trainable >= 0; }
  // Whether some node runs differently in training (batch norm, dropout).
  bool has_mode_dependent_nodes() const;
  // The printed form (graft train --dry-run), one line per phase.
  std::string describe(const std::vector<std::string>& node_names) const;
};

// trainable[i]: parameter i of `layout` (its node and role come from the
// layout, what the backends walk; for moving statistics: updated by the op).
// Throws graft::Error for a first_node outside [0, nodes) or a trainable
// list of the wrong size.
StepPlan plan_step(const ParameterLayout& layout, const std::vector<bool>& trainable, int first_node,
                   bool clip_by_global_norm, Mode mode = Mode::kTrain);
// The same for a dense stack known only by its trainable flags (two per
// node, in parameter_layout's order): the trainer's and the tests' form.
StepPlan plan_step(const std::vector<bool>& trainable, int first_node, bool clip_by_global_norm);

}  // namespace graft
