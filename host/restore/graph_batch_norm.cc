#include "host/restore/graph_batch_norm.h"

#include <vector>

namespace graft::graph_walk {
namespace {

// A Const scalar bool false (the default of tf.layers' `training` placeholder).
bool false_constant(const Graph& g, Tensor t) {
  t = g.through_identity(t);
  if (t.node->op() != "Const") return false;
  const tf::AttrValue* v = attr(*t.node, "value");
  if (!v || !v->has_tensor() || v->tensor().dtype() != 10 || v->tensor().tensor_shape().dim_size() != 0) return false;
  const tf::TensorProto& p = v->tensor();
  if (p.bool_val_size() == 1) return !p.bool_val(0);
  return p.bool_val_size() == 0 && p.tensor_content().size() == 1 && p.tensor_content()[0] == 0;
}

// Strips Identity, Reshape and Switch (noting which output and predicate),
// the glue tf.cond and nn.batch_normalization put around each operand.
struct Stripped {
  Tensor t;
  bool ok = true;  // every Switch read was output 0 of a false-by-default predicate
  int switches = 0;
};

Stripped strip(const Graph& g, Tensor t) {
  Stripped s;
  for (std::size_t steps = 0; steps <= g.size(); ++steps) {
    const tf::NodeDef& n = *t.node;
    if ((n.op() == "Identity" || n.op() == "Reshape") && g.data_inputs(n) >= 1 && n.op() != "Switch") {
      if (n.op() == "Identity" && g.variable(t)) break;  // a variable read: keep for g.variable
      t = g.input(n, 0);
      continue;
    }
    if (n.op() == "Switch" && g.data_inputs(n) == 2) {
      ++s.switches;
      const tf::NodeDef* pred = g.through_identity(g.input(n, 1)).node;
      if (t.output != 0 || pred->op() != "PlaceholderWithDefault" || g.data_inputs(*pred) != 1 ||
          !false_constant(g, g.input(*pred, 0))) {
        s.ok = false;
      }
      t = g.input(n, 0);
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

// The operand behind a Switch/Reshape chain; ok false when a Switch was not the inference side.
std::optional<Operand> operand(const Graph& g, Tensor t, bool& ok) {
  const Stripped s = strip(g, t);
  ok = ok && s.ok;
  Operand o;
  o.tensor = s.t;
  o.variable = g.variable(s.t);
  return o;
}

struct Inv {
  const tf::NodeDef* node = nullptr;  // the inv tensor's node (shared by both uses)
  const tf::NodeDef* gamma = nullptr;
  const tf::NodeDef* variance = nullptr;
  double epsilon = 0;
};

// rsqrt(var + eps) [* gamma]
std::optional<Inv> inv_at(const Graph& g, Tensor t, bool& ok) {
  t = g.through_identity(t);
  Inv inv;
  inv.node = t.node;
  Tensor rsqrt = t;
  if (is(t, "Mul") && g.data_inputs(*t.node) == 2) {
    bool found = false;
    for (int i = 0; i < 2 && !found; ++i) {
      const Tensor r = g.through_identity(g.input(*t.node, i));
      if (!is(r, "Rsqrt")) continue;
      const auto gamma = operand(g, g.input(*t.node, 1 - i), ok);
      if (!gamma || !gamma->variable) return std::nullopt;
      inv.gamma = gamma->variable;
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
    const auto var = operand(g, g.input(*add.node, i), ok);
    if (!var || !var->variable) return std::nullopt;
    inv.variance = var->variable;
    inv.epsilon = *eps;
    return inv;
  }
  return std::nullopt;
}

// x * inv + (beta - mean * inv) or x * inv + -(mean * inv); the inference branch.
std::optional<BatchNormMatch> inference_formula(const Graph& g, Tensor t, bool& ok) {
  t = g.through_identity(t);
  if ((!is(t, "Add") && !is(t, "AddV2")) || g.data_inputs(*t.node) != 2) return std::nullopt;
  for (int order = 0; order < 2; ++order) {
    const Tensor scaled = g.through_identity(g.input(*t.node, order));
    const Tensor shift = g.through_identity(g.input(*t.node, 1 - order));
    if (!is(scaled, "Mul") || g.data_inputs(*scaled.node) != 2) continue;
    for (int xi = 0; xi < 2; ++xi) {
      bool branch_ok = true;
      const auto inv = inv_at(g, g.input(*scaled.node, 1 - xi), branch_ok);
      if (!inv) continue;
      const auto x = operand(g, g.input(*scaled.node, xi), branch_ok);
      if (!x || x->variable) continue;
      // The shift: Sub(beta, Mul(mean, inv)) or Neg(Mul(mean, inv)).
      const tf::NodeDef* beta = nullptr;
      Tensor mean_inv = shift;
      if (is(shift, "Sub") && g.data_inputs(*shift.node) == 2) {
        const auto b = operand(g, g.input(*shift.node, 0), branch_ok);
        if (!b || !b->variable) continue;
        beta = b->variable;
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
        const auto m = operand(g, g.input(*mean_inv.node, mi), branch_ok);
        if (m && m->variable) mean = m->variable;
      }
      if (!mean) continue;
      BatchNormMatch b;
      b.output = t.node;
      b.input = x->tensor;
      b.gamma = inv->gamma;
      b.beta = beta;
      b.moving_mean = mean;
      b.moving_variance = inv->variance;
      b.epsilon = inv->epsilon;
      ok = branch_ok;
      return b;
    }
  }
  return std::nullopt;
}

// 1 - decay of AssignSub(var, (var - batch) * decay), the moving average's update.
std::optional<double> decay_of(const Graph& g, const tf::NodeDef* var) {
  for (const tf::NodeDef* n : g.nodes_with_op({"AssignSub", "AssignSubVariableOp"})) {
    if (g.data_inputs(*n) != 2 || g.variable(g.input(*n, 0)) != var) continue;
    const Tensor mul = g.through_identity(g.input(*n, 1));
    if (!is(mul, "Mul") || g.data_inputs(*mul.node) != 2) continue;
    for (int i = 0; i < 2; ++i) {
      if (const auto d = scalar_constant(g, g.input(*mul.node, i))) return *d;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<BatchNormMatch> batch_norm_at(const Graph& g, Tensor t) {
  t = g.through_identity(t);
  std::optional<BatchNormMatch> found;
  if (is(t, "Merge") && t.output == 0 && g.data_inputs(*t.node) == 2) {
    for (int i = 0; i < 2 && !found; ++i) {
      bool ok = true;
      auto m = inference_formula(g, g.input(*t.node, i), ok);
      if (m && ok) {
        m->output = t.node;
        m->cond = t.node->name();
        found = m;
      }
    }
  } else {
    bool ok = true;
    auto m = inference_formula(g, t, ok);
    if (m && ok) found = m;
  }
  if (!found) return std::nullopt;
  const std::optional<double> mean_decay = decay_of(g, found->moving_mean);
  const std::optional<double> var_decay = decay_of(g, found->moving_variance);
  if (mean_decay && var_decay && *mean_decay == *var_decay) found->momentum = 1.0 - *mean_decay;
  return found;
}

}  // namespace graft::graph_walk
