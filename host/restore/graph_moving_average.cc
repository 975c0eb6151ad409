#include "host/restore/graph_moving_average.h"

#include <cmath>

namespace graft::graph_walk {
namespace {

// The variable an update writes or reads, through Identity, ReadVariableOp
// and the Switch of a tf.cond (either branch: updates run in training).
const tf::NodeDef* updated_variable(const Graph& g, Tensor t) {
  for (std::size_t steps = 0; steps <= g.size(); ++steps) {
    if (const tf::NodeDef* v = g.variable(t)) return v;
    const tf::NodeDef& n = *t.node;
    if (is_switch(n) && g.data_inputs(n) == 2) {
      t = g.input(n, 0);
    } else if ((n.op() == "Identity" || n.op() == "ReadVariableOp") && g.data_inputs(n) == 1) {
      t = g.input(n, 0);
    } else {
      return nullptr;
    }
  }
  return nullptr;
}

// Which branch of a tf.cond a node runs in, from its control input on the
// cond's switch_t/switch_f (Identity of Switch output 1/0): 1, 0, or -1.
int branch_of(const Graph& g, const tf::NodeDef& n) {
  for (int i = g.data_inputs(n); i < n.input_size(); ++i) {
    const tf::NodeDef* c = g.find(n.input(i).substr(1));
    if (!c || c->op() != "Identity" || g.data_inputs(*c) != 1) continue;
    const Tensor s = g.input(*c, 0);
    if (is_switch(*s.node) && (s.output == 0 || s.output == 1)) return s.output;
  }
  return -1;
}

// A scalar that is a Const, or a tf.cond choosing between two Consts by the
// training flag (a Merge): the true branch's, else the one that is not
// `idle` (the value the false branch, inference, passes).
std::optional<double> training_constant(const Graph& g, Tensor t, double idle) {
  t = g.through_identity(t);
  if (const auto c = scalar_constant(g, t)) return c;
  if (t.node->op() != "Merge" || g.data_inputs(*t.node) != 2) return std::nullopt;
  std::optional<double> values[2];
  for (int i = 0; i < 2; ++i) {
    const Tensor in = g.through_identity(g.input(*t.node, i));
    values[i] = scalar_constant(g, in);
    if (!values[i]) return std::nullopt;
    if (branch_of(g, *in.node) == 1) return values[i];
  }
  if ((*values[0] == idle) != (*values[1] == idle)) return *values[0] == idle ? values[1] : values[0];
  return std::nullopt;
}

// The momentum a decay tensor stands for, through Identity and Cast:
//   decay = 1 - momentum as a Const (tf.contrib, unfused tf.layers), or as
//     smart_cond(training, 1 - momentum, 0) (fused tf.layers, TF 1.4-1.9);
//   Sub(1, momentum), momentum a Const or smart_cond(training, momentum, 1)
//     (fused Keras/tf.layers, TF 1.10+).
std::optional<double> momentum_of_decay(const Graph& g, Tensor t) {
  for (std::size_t steps = 0; steps <= g.size(); ++steps) {
    t = g.through_identity(t);
    if (t.node->op() != "Cast" || g.data_inputs(*t.node) != 1) break;
    t = g.input(*t.node, 0);
  }
  if (const auto d = training_constant(g, t, 0.0)) return 1.0 - *d;
  if (t.node->op() == "Sub" && g.data_inputs(*t.node) == 2 && scalar_constant(g, g.input(*t.node, 0)) == 1.0) {
    return training_constant(g, g.input(*t.node, 1), 1.0);
  }
  return std::nullopt;
}

// 1 - decay of an AssignSub(var, (var - batch) * decay) that updates `var`.
std::optional<double> assign_sub_momentum(const Graph& g, const tf::NodeDef& var) {
  for (const tf::NodeDef* n : g.nodes_with_op({"AssignSub", "AssignSubVariableOp"})) {
    if (g.data_inputs(*n) != 2 || updated_variable(g, g.input(*n, 0)) != &var) continue;
    Tensor delta = g.through_identity(g.input(*n, 1));
    if ((delta.node->op() == "Select" || delta.node->op() == "SelectV2") && g.data_inputs(*delta.node) == 3) {
      delta = g.through_identity(g.input(*delta.node, 1));  // tf.where(size > 0, delta, 0)
    }
    if (delta.node->op() != "Mul" || g.data_inputs(*delta.node) != 2) continue;
    for (int i = 0; i < 2; ++i) {
      if (const auto m = momentum_of_decay(g, g.input(*delta.node, i))) return m;
    }
  }
  return std::nullopt;
}

// 1 - the exponential_avg_factor of a training FusedBatchNormV3 that
// averages `mean` itself (its input 3), with that node's name.
std::optional<MovingAverageMomentum> fused_average_momentum(const Graph& g, const tf::NodeDef& mean) {
  for (const tf::NodeDef* n : g.nodes_with_op({"FusedBatchNormV3"})) {
    const tf::AttrValue* training = attr(*n, "is_training");
    const tf::AttrValue* factor = attr(*n, "exponential_avg_factor");
    if ((training && !training->b()) || !factor || factor->f() == 1.0f || g.data_inputs(*n) < 5) continue;
    if (updated_variable(g, g.input(*n, 3)) != &mean) continue;
    return MovingAverageMomentum{1.0 - static_cast<double>(factor->f()),
                                 "1 - the exponential_avg_factor of " + n->name()};
  }
  return std::nullopt;
}

}  // namespace

std::optional<MovingAverageMomentum> moving_average_momentum(const Graph& g, const tf::NodeDef& moving_mean,
                                                             const tf::NodeDef& moving_variance) {
  const std::optional<double> mean = assign_sub_momentum(g, moving_mean);
  const std::optional<double> variance = assign_sub_momentum(g, moving_variance);
  if (mean || variance) {
    if (mean && variance && *mean != *variance) return std::nullopt;
    const double m = mean ? *mean : *variance;
    if (!std::isfinite(m)) return std::nullopt;
    return MovingAverageMomentum{m, "1 - its AssignMovingAvg decay"};
  }
  std::optional<MovingAverageMomentum> fused = fused_average_momentum(g, moving_mean);
  if (fused && !std::isfinite(fused->momentum)) return std::nullopt;
  return fused;
}

}  // namespace graft::graph_walk
