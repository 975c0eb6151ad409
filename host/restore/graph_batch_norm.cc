#include "host/restore/graph_batch_norm.h"

#include <vector>

#include "host/restore/graph_cond.h"
#include "host/restore/graph_moving_average.h"

namespace graft::graph_walk {
namespace {

using Branch = CondBranch;

struct Stripped {
  Tensor t;
  Branch branch;
};

constexpr int kMaxMergeDepth = 8;

// Strips Identity and ReadVariableOp (not a variable's own read), Reshape,
// Switch (noting which output and predicate), and, for the statistics, the
// Merge of a cond over them (following its inference side): the glue
// tf.cond and nn.batch_normalization put around each operand. x never
// crosses a Merge: one below it is another construct (a dropout's cond).
Stripped strip(const Graph& g, Tensor t, bool follow_merge = true, int depth = 0) {
  Stripped s;
  for (std::size_t steps = 0; steps <= g.size(); ++steps) {
    const tf::NodeDef& n = *t.node;
    if ((n.op() == "Identity" || n.op() == "ReadVariableOp") && g.data_inputs(n) == 1) {
      if (g.variable(t)) break;  // a variable read: kept for g.variable
      t = g.input(n, 0);
      continue;
    }
    if (n.op() == "Reshape" && g.data_inputs(n) >= 1) {
      t = g.input(n, 0);
      continue;
    }
    if (is_switch(n) && g.data_inputs(n) == 2) {
      s.branch.read_switch(g, n, t.output);
      t = g.input(n, 0);
      continue;
    }
    if (follow_merge && n.op() == "Merge" && t.output == 0 && g.data_inputs(n) == 2 && depth < kMaxMergeDepth) {
      // mean = smart_cond(training, batch mean, moving mean): the side read at inference.
      std::optional<Stripped> picked;
      for (int i = 0; i < 2; ++i) {
        Stripped side = strip(g, g.input(n, i), true, depth + 1);
        if (side.branch.switches > 0 && side.branch.inference && !picked) picked = side;
      }
      if (!picked) break;
      s.branch.add(picked->branch);
      t = picked->t;
      continue;
    }
    break;
  }
  s.t = t;
  return s;
}

bool is(const Tensor& t, const char* op) { return t.node->op() == op; }

struct Operand {
  const tf::NodeDef* variable = nullptr;
  Tensor tensor;
};

// The operand behind the glue; `branch` gathers how it was reached.
Operand operand(const Graph& g, Tensor t, Branch& branch, bool follow_merge = true) {
  const Stripped s = strip(g, t, follow_merge);
  branch.add(s.branch);
  return Operand{g.variable(s.t), s.t};
}

struct Inv {
  const tf::NodeDef* node = nullptr;  // the inv tensor's node (shared by both uses)
  const tf::NodeDef* gamma = nullptr;
  const tf::NodeDef* variance = nullptr;
  double epsilon = 0;
};

// rsqrt(var + eps) [* gamma]
std::optional<Inv> inv_at(const Graph& g, Tensor t, Branch& branch) {
  t = g.through_identity(t);
  Inv inv;
  inv.node = t.node;
  Tensor rsqrt = t;
  if (is(t, "Mul") && g.data_inputs(*t.node) == 2) {
    bool found = false;
    for (int i = 0; i < 2 && !found; ++i) {
      const Tensor r = g.through_identity(g.input(*t.node, i));
      if (!is(r, "Rsqrt")) continue;
      const Operand gamma = operand(g, g.input(*t.node, 1 - i), branch);
      if (!gamma.variable) return std::nullopt;
      inv.gamma = gamma.variable;
      rsqrt = r;
      found = true;
    }
    if (!found) return std::nullopt;
  }
  if (!is(rsqrt, "Rsqrt") || g.data_inputs(*rsqrt.node) != 1) return std::nullopt;
  const Tensor add = g.through_identity(g.input(*rsqrt.node, 0));
  if ((!is(add, "Add") && !is(add, "AddV2")) || g.data_inputs(*add.node) != 2) return std::nullopt;
  for (int i = 0; i < 2; ++i) {
    const std::optional<double> eps = scalar_constant(g, strip(g, g.input(*add.node, 1 - i)).t);
    if (!eps) continue;
    const Operand var = operand(g, g.input(*add.node, i), branch);
    if (!var.variable) return std::nullopt;
    inv.variance = var.variable;
    inv.epsilon = *eps;
    return inv;
  }
  return std::nullopt;
}

// x * inv + (beta - mean * inv) or x * inv + -(mean * inv); the inference branch.
std::optional<BatchNormMatch> inference_formula(const Graph& g, Tensor t, Branch& branch) {
  t = g.through_identity(t);
  if ((!is(t, "Add") && !is(t, "AddV2")) || g.data_inputs(*t.node) != 2) return std::nullopt;
  for (int order = 0; order < 2; ++order) {
    const Tensor scaled = g.through_identity(g.input(*t.node, order));
    const Tensor shift = g.through_identity(g.input(*t.node, 1 - order));
    if (!is(scaled, "Mul") || g.data_inputs(*scaled.node) != 2) continue;
    for (int xi = 0; xi < 2; ++xi) {
      Branch b;
      const auto inv = inv_at(g, g.input(*scaled.node, 1 - xi), b);
      if (!inv) continue;
      const Operand x = operand(g, g.input(*scaled.node, xi), b, false);
      if (x.variable) continue;
      // The shift: Sub(beta, Mul(mean, inv)) or Neg(Mul(mean, inv)).
      const tf::NodeDef* beta = nullptr;
      Tensor mean_inv = shift;
      if (is(shift, "Sub") && g.data_inputs(*shift.node) == 2) {
        const Operand beta_operand = operand(g, g.input(*shift.node, 0), b);
        if (!beta_operand.variable) continue;
        beta = beta_operand.variable;
        mean_inv = g.through_identity(g.input(*shift.node, 1));
      } else if (is(shift, "Neg") && g.data_inputs(*shift.node) == 1) {
        mean_inv = g.through_identity(g.input(*shift.node, 0));
      } else {
        continue;
      }
      if (!is(mean_inv, "Mul") || g.data_inputs(*mean_inv.node) != 2) continue;
      const tf::NodeDef* mean = nullptr;
      for (int mi = 0; mi < 2 && !mean; ++mi) {
        if (g.through_identity(g.input(*mean_inv.node, 1 - mi)).node != inv->node) continue;
        const Operand m = operand(g, g.input(*mean_inv.node, mi), b);
        if (m.variable) mean = m.variable;
      }
      if (!mean) continue;
      BatchNormMatch match;
      match.output = t.node;
      match.input = x.tensor;
      match.gamma = inv->gamma;
      match.beta = beta;
      match.moving_mean = mean;
      match.moving_variance = inv->variance;
      match.epsilon = inv->epsilon;
      branch = b;
      return match;
    }
  }
  return std::nullopt;
}

std::optional<BatchNormMatch> unfused_batch_norm_at(const Graph& g, Tensor t) {
  t = g.through_identity(t);
  std::optional<BatchNormMatch> found;
  Branch branch;
  if (is(t, "Merge") && t.output == 0 && g.data_inputs(*t.node) == 2) {
    for (int i = 0; i < 2 && !found; ++i) {
      Branch b;
      auto m = inference_formula(g, g.input(*t.node, i), b);
      if (m && b.inference) {
        m->output = t.node;
        m->cond = t.node->name();
        found = m;
        branch = b;
      }
    }
  } else {
    auto m = inference_formula(g, t, branch);
    if (m && branch.inference) found = m;
  }
  if (!found) return std::nullopt;
  if (!branch.by_default) refuse_cond_predicate(g, found->cond.empty() ? found->output->name() : found->cond, branch);
  return found;
}

}  // namespace

std::optional<BatchNormMatch> batch_norm_at(const Graph& g, Tensor t) {
  std::optional<BatchNormMatch> found = fused_batch_norm_at(g, t);
  if (!found) found = unfused_batch_norm_at(g, t);
  if (!found) return std::nullopt;
  if (const auto m = moving_average_momentum(g, *found->moving_mean, *found->moving_variance)) {
    found->momentum = m->momentum;
    found->momentum_source = m->source;
  }
  return found;
}

}  // namespace graft::graph_walk
