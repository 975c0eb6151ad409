#include "host/restore/graph_input_transform.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

namespace graft::graph_walk {
namespace {

const char* dtype_name(int dtype) {
  switch (dtype) {
    case 1:
      return "float32";
    case 2:
      return "float64";
    case 3:
      return "int32";
    case 4:
      return "uint8";
    case 5:
      return "int16";
    case 6:
      return "int8";
    case 9:
      return "int64";
    case 17:
      return "uint16";
    case 19:
      return "float16";
    default:
      return nullptr;
  }
}

int type_attr(const tf::NodeDef& n, const char* key) {
  const tf::AttrValue* a = attr(n, key);
  return a ? a->type() : 0;
}

// The placeholders t is computed from, or nullopt when it reads a MatMul or
// a variable (t is a hidden layer's output, or a layer graft does not
// evaluate, such as a convolution: not the input's transform).
std::optional<std::vector<const tf::NodeDef*>> input_placeholders(const Graph& g, Tensor t) {
  std::set<const tf::NodeDef*> seen{t.node};
  std::vector<const tf::NodeDef*> queue{t.node}, placeholders;
  for (std::size_t q = 0; q < queue.size(); ++q) {
    const tf::NodeDef& n = *queue[q];
    if (n.op() == "MatMul" || n.op() == "BatchMatMul" || n.op() == "BatchMatMulV2" || n.op() == "VariableV2" ||
        n.op() == "Variable" || n.op() == "VarHandleOp") {
      return std::nullopt;
    }
    if (n.op() == "Placeholder") placeholders.push_back(&n);
    for (int i = 0; i < g.data_inputs(n); ++i) {
      const tf::NodeDef* in = g.input(n, i).node;
      if (seen.insert(in).second) queue.push_back(in);
    }
  }
  if (placeholders.empty()) return std::nullopt;
  std::sort(placeholders.begin(), placeholders.end(), [](auto* a, auto* b) { return a->name() < b->name(); });
  return placeholders;
}

struct Step {
  const tf::NodeDef* node = nullptr;
  std::string op;              // Mul, Div (RealDiv/Div), Sub, Add, Cast
  std::vector<double> values;  // the Const's, one per feature or one
  std::string constant;        // the Const's name
};

std::string number(double v) { return fmt::format("{:.6g}", v); }

[[noreturn]] void refuse_step(const Graph& g, const tf::NodeDef& placeholder, const tf::NodeDef& n,
                              const std::string& why) {
  g.fail(
      fmt::format("the input {} is transformed by {} ({}) before the first dense layer: {}; graft represents an "
                  "input transform as raw * scale, then (x - mean) / stddev per feature",
                  placeholder.name(), n.op(), n.name(), why));
}

}  // namespace

std::optional<InputTransformMatch> input_transform_at(const Graph& g, Tensor t, int64_t features) {
  const auto placeholders = input_placeholders(g, t);
  if (!placeholders) return std::nullopt;
  if (placeholders->size() > 1) {
    g.fail(fmt::format("the graph's network uses two inputs ({}, {}), which graft cannot evaluate yet",
                       placeholders->at(0)->name(), placeholders->at(1)->name()));
  }
  const tf::NodeDef& placeholder = *placeholders->front();
  const std::string before = "before the first dense layer";
  std::vector<Step> steps;  // top (the dense layer's side) first
  Tensor at = t;
  for (std::size_t n_steps = 0; n_steps <= g.size(); ++n_steps) {
    at = g.through_identity(at);
    const tf::NodeDef& n = *at.node;
    if (&n == &placeholder) break;
    if (at.output != 0) refuse_step(g, placeholder, n, fmt::format("it reads its output {}", at.output));
    if (n.op() == "Cast") {
      const int to = type_attr(n, "DstT"), from = type_attr(n, "SrcT");
      if ((to != 1 && to != 2) || !dtype_name(from)) {
        refuse_step(g, placeholder, n,
                    fmt::format("it casts {} to {}", dtype_name(from) ? dtype_name(from) : "an unknown type",
                                dtype_name(to) ? dtype_name(to) : "an unknown type"));
      }
      if (g.data_inputs(n) != 1) refuse_step(g, placeholder, n, "it does not have one input");
      steps.push_back(Step{&n, "Cast", {}, dtype_name(to)});
      at = g.input(n, 0);
      continue;
    }
    if (n.op() == "Reshape" && g.data_inputs(n) == 2) {
      // To [-1, F] or [N, F]: the rows' values in order, a no-op on each feature.
      const auto shape = int_constant(g, g.input(n, 1));
      if (!shape || shape->size() != 2 || (*shape)[1] != features || ((*shape)[0] != -1 && (*shape)[0] <= 0)) {
        refuse_step(g, placeholder, n, "it reshapes to something other than [-1, " + std::to_string(features) + "]");
      }
      steps.push_back(Step{&n, "Reshape", {}, ""});
      at = g.input(n, 0);
      continue;
    }
    static const std::set<std::string> kBinary{"Mul", "RealDiv", "Div", "Sub", "Add", "AddV2", "BiasAdd"};
    if (!kBinary.count(n.op())) refuse_step(g, placeholder, n, "it is not a linear map of each feature");
    if (g.data_inputs(n) != 2) refuse_step(g, placeholder, n, "it does not have two inputs");
    int data = -1;
    std::optional<ConstantValues> c;
    for (int i = 0; i < 2; ++i) {
      auto values = float_constant(g, g.input(n, 1 - i));
      if (values) {
        data = i;
        c = std::move(values);
        break;
      }
    }
    if (data < 0) {
      refuse_step(g, placeholder, n,
                  "neither operand is a constant (a product or sum of two tensors is not a linear map of each "
                  "feature)");
    }
    const std::string& op = n.op();
    std::string kind = op == "RealDiv" ? "Div" : op == "AddV2" || op == "BiasAdd" ? "Add" : op;
    if (data == 1 && (kind == "Div" || kind == "Sub")) {
      refuse_step(g, placeholder, n,
                  kind == "Div" ? "it divides a constant by the input" : "it flips the input's sign");
    }
    // One value, or one per feature: [F] or [1, F].
    const std::vector<int64_t>& shape = c->shape;
    const bool one = c->values.size() == 1;
    const bool per_feature = static_cast<int64_t>(c->values.size()) == features &&
                             (shape == std::vector<int64_t>{features} || shape == std::vector<int64_t>{1, features});
    if (!one && !per_feature) {
      refuse_step(g, placeholder, n,
                  fmt::format("its constant {} has shape [{}], not one value or one per feature ({})",
                              g.through_identity(g.input(n, 1 - data)).node->name(), fmt::join(shape, ", "), features));
    }
    for (double v : c->values) {
      if (!std::isfinite(v)) refuse_step(g, placeholder, n, "its constant is not finite");
      if (kind == "Div" && v == 0.0) refuse_step(g, placeholder, n, "it divides by 0");
      if (kind == "Mul" && v == 0.0) refuse_step(g, placeholder, n, "it multiplies by 0");
    }
    steps.push_back(Step{&n, kind, c->values, g.through_identity(g.input(n, 1 - data)).node->name()});
    at = g.input(n, data);
  }
  if (steps.empty()) return std::nullopt;

  // Applied from the placeholder up: y = (raw * scale - M) / S.
  InputTransformMatch m;
  m.placeholder = &placeholder;
  const int ptype = type_attr(placeholder, "dtype");
  m.placeholder_type = dtype_name(ptype) ? dtype_name(ptype) : "type " + std::to_string(ptype);
  double scale = 1.0;
  bool standardized = false;
  const std::size_t f = static_cast<std::size_t>(features);
  std::vector<double> mean(f, 0.0), stddev(f, 1.0);
  std::string expr = placeholder.name();
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    const Step& s = *it;
    if (s.op == "Cast") {
      expr = "cast(" + expr + ", " + s.constant + ")";
      const int from = type_attr(*s.node, "SrcT");
      m.scales = m.scales || (from != 1 && from != 2 && from != 19);  // from an integer type: raw values
      continue;
    }
    if (s.op == "Reshape") {
      expr = "reshape(" + expr + ", [-1, " + std::to_string(features) + "])";
      m.flattened = true;
      continue;
    }
    m.scales = true;
    const bool uniform = std::all_of(s.values.begin(), s.values.end(), [&](double v) { return v == s.values[0]; });
    auto value = [&](std::size_t i) { return s.values.size() == 1 ? s.values[0] : s.values[i]; };
    const std::string operand = uniform ? number(s.values[0]) : s.constant;
    if (s.op == "Mul" || s.op == "Div") {
      if (!standardized && uniform) {
        scale = s.op == "Mul" ? scale * s.values[0] : scale / s.values[0];
      } else {
        standardized = true;
        for (std::size_t i = 0; i < f; ++i) stddev[i] = s.op == "Mul" ? stddev[i] / value(i) : stddev[i] * value(i);
      }
      expr = "(" + expr + (s.op == "Mul" ? " * " : " / ") + operand + ")";
    } else {
      standardized = true;
      for (std::size_t i = 0; i < f; ++i) mean[i] += (s.op == "Sub" ? 1.0 : -1.0) * value(i) * stddev[i];
      expr = "(" + expr + (s.op == "Sub" ? " - " : " + ") + operand + ")";
    }
  }
  if (expr.front() == '(' && expr.back() == ')') expr = expr.substr(1, expr.size() - 2);
  m.expression = expr;
  m.input.features = features;
  m.input.scale = scale;
  if (standardized) {
    for (std::size_t i = 0; i < f; ++i) {
      const float mu = static_cast<float>(mean[i]), sd = static_cast<float>(stddev[i]);
      if (!std::isfinite(mu) || !std::isfinite(sd) || !(sd > 0.0f)) {
        g.fail(
            fmt::format("the input {} is transformed as {} {}, which makes feature {} x * {} + {}: graft "
                        "represents an input transform as raw * scale, then (x - mean) / stddev with stddev > 0",
                        placeholder.name(), expr, before, i, 1.0 / stddev[i], -mean[i] / stddev[i]));
      }
      m.input.mean.push_back(mu);
      m.input.stddev.push_back(sd);
    }
  }
  return m;
}

}  // namespace graft::graph_walk
