// The fused form of batch normalization (FusedBatchNorm, V2, V3) on a dense
// layer's 2-D output; see graph_batch_norm.h for the pattern.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <set>
#include <vector>

#include "host/restore/graph_batch_norm.h"
#include "host/restore/graph_cond.h"

namespace graft::graph_walk {
namespace {

bool is_fused(const tf::NodeDef& n) {
  return n.op() == "FusedBatchNorm" || n.op() == "FusedBatchNormV2" || n.op() == "FusedBatchNormV3";
}

// The op's is_training attr (TensorFlow's default: true).
bool is_training(const tf::NodeDef& n) {
  const tf::AttrValue* a = attr(n, "is_training");
  return !a || a->b();
}

std::string text(const std::vector<int64_t>& v) { return "[" + fmt::format("{}", fmt::join(v, ", ")) + "]"; }

// An operand of the fused op, behind Identity, ReadVariableOp and the
// cond's Switch; for x also behind the reshape to 4-D (`glue`, top first).
struct Source {
  Tensor t;
  CondBranch branch;
  std::vector<const tf::NodeDef*> glue;
};

Source source_of(const Graph& g, Tensor t, bool x) {
  Source s;
  for (std::size_t steps = 0; steps <= g.size(); ++steps) {
    const tf::NodeDef& n = *t.node;
    if ((n.op() == "Identity" || n.op() == "ReadVariableOp") && g.data_inputs(n) == 1) {
      if (g.variable(t)) break;
      t = g.input(n, 0);
    } else if (is_switch(n) && g.data_inputs(n) == 2) {
      s.branch.read_switch(g, n, t.output);
      t = g.input(n, 0);
    } else if (x && (n.op() == "Reshape" || n.op() == "ExpandDims") && g.data_inputs(n) == 2 && t.output == 0) {
      s.glue.push_back(&n);
      t = g.input(n, 0);
    } else {
      break;
    }
  }
  s.t = t;
  return s;
}

// The dims of x after the glue, from a 2-D [N, C] below it ("N", "C", "1"),
// or an empty vector when a step is not one graft can follow.
std::vector<std::string> reshaped(const Graph& g, const std::vector<const tf::NodeDef*>& glue, int64_t channels,
                                  const std::string& format) {
  std::vector<std::string> dims{"N", "C"};
  for (auto it = glue.rbegin(); it != glue.rend(); ++it) {
    const tf::NodeDef& n = **it;
    const auto values = int_constant(g, g.input(n, 1));
    if (!values) return {};
    if (n.op() == "ExpandDims") {
      if (values->size() != 1) return {};
      const int64_t rank = static_cast<int64_t>(dims.size());
      int64_t axis = (*values)[0];
      if (axis < -rank - 1 || axis > rank) return {};
      if (axis < 0) axis += rank + 1;
      dims.insert(dims.begin() + axis, "1");
      continue;
    }
    // Reshape to a constant shape: the batch -1 (or a fixed size), C where
    // data_format keeps the channels, 1 elsewhere.
    if (values->size() != 4) return {};
    const std::size_t channel_at = format == "NCHW" ? 1 : 3;
    dims.clear();
    for (std::size_t i = 0; i < 4; ++i) {
      const int64_t v = (*values)[i];
      if (i == 0 && (v == -1 || v > 0)) {
        dims.push_back("N");
      } else if (i == channel_at && (v == channels || v == -1)) {
        dims.push_back("C");
      } else if (v == 1) {
        dims.push_back("1");
      } else {
        dims.push_back(std::to_string(v));
      }
    }
  }
  return dims;
}

// Whether `back` (top first: Reshape or Squeeze) turns the op's 4-D output
// into [N, C] again.
bool reshaped_back(const Graph& g, const std::vector<const tf::NodeDef*>& back, int64_t channels,
                   const std::string& format) {
  if (back.size() != 1) return false;
  const tf::NodeDef& n = *back.front();
  if (n.op() == "Squeeze") {
    const tf::AttrValue* a = attr(n, "squeeze_dims");
    if (!a || !a->has_list() || a->list().i_size() == 0) return true;  // every size-1 dimension
    std::set<int64_t> dims;
    for (int64_t d : a->list().i()) dims.insert(d < 0 ? d + 4 : d);
    return dims == (format == "NCHW" ? std::set<int64_t>{2, 3} : std::set<int64_t>{1, 2});
  }
  const Tensor shape = g.through_identity(g.input(n, 1));
  if (shape.node->op() == "Shape") return true;  // tf.contrib: reshape(outputs, shape(original_inputs))
  const auto values = int_constant(g, shape);
  return values && values->size() == 2 && ((*values)[0] == -1 || (*values)[0] > 0) &&
         ((*values)[1] == channels || ((*values)[1] == -1 && (*values)[0] > 0));
}

// The fused op's epsilon (TensorFlow's op default 1e-4 when the attr is
// missing; nn.fused_batch_norm writes the epsilon it ran with, at least 1.001e-5).
double epsilon_of(const tf::NodeDef& n) {
  const tf::AttrValue* a = attr(n, "epsilon");
  return a ? static_cast<double>(a->f()) : 1e-4;
}

std::string format_of(const Graph& g, const tf::NodeDef& n) {
  const tf::AttrValue* a = attr(n, "data_format");
  const std::string f = a ? a->s() : "NHWC";
  if (f != "NHWC" && f != "NCHW") {
    g.fail(fmt::format("{} ({}) has data_format {}; graft reads batch normalization of dense layers (NHWC or NCHW)",
                       n.name(), n.op(), f));
  }
  return f;
}

// Whether every value of a float Const is `value`.
bool constant_all(const Graph& g, Tensor t, double value) {
  const auto c = float_constant(g, t);
  return c && !c->values.empty() &&
         std::all_of(c->values.begin(), c->values.end(), [&](double v) { return v == value; });
}

// tf.contrib's cond around the output when it forces the updates
// (updates_collections=None): Merge(Switch(y):0, Identity(Switch(y):1))
// whose true branch waits for the updates. Returns the false side's Switch.
std::optional<Tensor> forwarding_cond(const Graph& g, Tensor merge) {
  const tf::NodeDef& n = *merge.node;
  if (n.op() != "Merge" || merge.output != 0 || g.data_inputs(n) != 2) return std::nullopt;
  for (int i = 0; i < 2; ++i) {
    const Tensor f = g.through_identity(g.input(n, i));
    const Tensor tr = g.through_identity(g.input(n, 1 - i));
    if (!is_switch(*f.node) || f.output != 0 || g.data_inputs(*f.node) != 2) continue;
    if (!is_switch(*tr.node) || tr.output != 1 || g.data_inputs(*tr.node) != 2) continue;
    if (!(g.through_identity(g.input(*f.node, 0)) == g.through_identity(g.input(*tr.node, 0)))) continue;
    return f;
  }
  return std::nullopt;
}

}  // namespace

std::optional<BatchNormMatch> fused_batch_norm_at(const Graph& g, Tensor t) {
  // Down from t: the reshape back to 2-D, and tf.contrib's identity cond
  // around the output (updates_collections=None: smart_cond(is_training,
  // force the updates, leave them)).
  Tensor at = g.through_identity(t);
  std::vector<const tf::NodeDef*> back;
  CondBranch outer;
  for (std::size_t steps = 0; steps <= g.size(); ++steps) {
    const tf::NodeDef& n = *at.node;
    if ((n.op() == "Reshape" && g.data_inputs(n) == 2) || (n.op() == "Squeeze" && g.data_inputs(n) == 1)) {
      if (at.output != 0) return std::nullopt;
      back.push_back(&n);
      at = g.through_identity(g.input(n, 0));
      continue;
    }
    if (const auto forwarded = forwarding_cond(g, at)) {
      outer.read_switch(g, *forwarded->node, 0);
      at = g.through_identity(g.input(*forwarded->node, 0));
      continue;
    }
    break;
  }
  // The fused op, or the Merge of the cond that chooses between two.
  const tf::NodeDef* op = nullptr;
  const tf::NodeDef* merge = nullptr;
  if (is_fused(*at.node) && at.output == 0) {
    op = at.node;
  } else if (at.node->op() == "Merge" && at.output == 0 && g.data_inputs(*at.node) == 2) {
    for (int i = 0; i < 2; ++i) {
      const Tensor in = g.through_identity(g.input(*at.node, i));
      if (!is_fused(*in.node) || in.output != 0) return std::nullopt;
      if (!is_training(*in.node) && !op) op = in.node;
    }
    merge = at.node;
    if (!op) {
      g.fail(
          fmt::format("the batch normalization at {} normalises with the batch's statistics in both branches of "
                      "its tf.cond (is_training true): graft evaluates it with moving statistics only",
                      merge->name()));
    }
  } else {
    return std::nullopt;
  }
  if (g.data_inputs(*op) < 5) g.fail(fmt::format("{} ({}) does not have five inputs", op->name(), op->op()));
  const Source x = source_of(g, g.input(*op, 0), true);
  if (x.glue.empty() || back.empty()) return std::nullopt;  // not a dense layer's 2-D output (a convolution's)
  if (!merge && is_training(*op)) {
    g.fail(
        fmt::format("{} ({}) normalises with the batch's statistics (is_training true) and the graph has no "
                    "inference branch: graft evaluates batch normalization with its moving statistics only",
                    op->name(), op->op()));
  }
  const std::string where = merge ? merge->name() : op->name();
  CondBranch branch = outer;
  branch.add(x.branch);
  Source operands[4];
  const char* roles[4] = {"scale", "offset", "mean", "variance"};
  for (int i = 0; i < 4; ++i) {
    operands[i] = source_of(g, g.input(*op, i + 1), false);
    branch.add(operands[i].branch);
  }
  if (!branch.inference) return std::nullopt;  // a training branch's view
  if (!branch.by_default) refuse_cond_predicate(g, where, branch);
  const tf::NodeDef* variables[4];
  for (int i = 0; i < 4; ++i) variables[i] = g.variable(operands[i].t);
  for (int i = 2; i < 4; ++i) {
    if (!variables[i]) {
      g.fail(
          fmt::format("{} ({}) normalises with a {} that is not a variable ({} {}): graft evaluates batch "
                      "normalization with moving statistics read from the checkpoint",
                      op->name(), op->op(), roles[i], operands[i].t.node->op(), operands[i].t.node->name()));
    }
  }
  // Without scale or center the layer passes a Const of ones or zeros.
  for (int i = 0; i < 2; ++i) {
    if (variables[i] || constant_all(g, operands[i].t, i == 0 ? 1.0 : 0.0)) continue;
    g.fail(
        fmt::format("{} ({}) takes its {} from {} ({}), which is neither a variable nor a constant {}: graft "
                    "cannot evaluate it",
                    op->name(), op->op(), roles[i], operands[i].t.node->name(), operands[i].t.node->op(),
                    i == 0 ? "of ones" : "of zeros"));
  }
  const std::vector<int64_t> mean_shape = shape_of_variable(*variables[2]);
  if (mean_shape.size() != 1 || mean_shape[0] <= 0) {
    g.fail(fmt::format("the moving mean {} of {} has shape {}; batch normalization keeps one value per feature",
                       variables[2]->name(), op->name(), text(mean_shape)));
  }
  const int64_t channels = mean_shape[0];
  const std::string format = format_of(g, *op);
  const std::vector<std::string> dims = reshaped(g, x.glue, channels, format);
  const std::vector<std::string> want =
      format == "NCHW" ? std::vector<std::string>{"N", "C", "1", "1"} : std::vector<std::string>{"N", "1", "1", "C"};
  if (dims != want) {
    g.fail(fmt::format("{} ({}, {}) normalises x as reshaped by {} ({}), not a dense layer's [N, {}] as {}", op->name(),
                       op->op(), format, x.glue.front()->name(), x.glue.front()->op(), channels,
                       format == "NCHW" ? "[N, C, 1, 1]" : "[N, 1, 1, C]"));
  }
  if (!reshaped_back(g, back, channels, format)) {
    g.fail(fmt::format("the output of {} ({}) is reshaped by {} ({}), not back to the [N, {}] it normalised",
                       op->name(), op->op(), back.front()->name(), back.front()->op(), channels));
  }
  BatchNormMatch m;
  m.output = merge ? merge : op;
  m.input = x.t;
  m.gamma = variables[0];
  m.beta = variables[1];
  m.moving_mean = variables[2];
  m.moving_variance = variables[3];
  m.epsilon = epsilon_of(*op);
  m.cond = merge ? merge->name() : "";
  m.fused_op = op->op() + " " + format;
  return m;
}

}  // namespace graft::graph_walk
