#pragma once
// The walk of a TensorFlow GraphDef that graph_import.cc and its
// recognisers share: tensors (node, output), inputs through Identity chains,
// variable reads, scalar constants. Internal to host/restore/.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "checkpoint/error.h"
#include "meta_graph.pb.h"

namespace graft::graph_walk {

// One output of one node: "name" is output 0, "name:1" output 1.
struct Tensor {
  const tf::NodeDef* node = nullptr;
  int output = 0;
  bool operator==(const Tensor& o) const { return node == o.node && output == o.output; }
};


inline bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

class Graph {
 public:
  Graph(const tf::GraphDef& g, std::string origin) : origin_(std::move(origin)) {
    for (const tf::NodeDef& n : g.node()) {
      if (!by_name_.emplace(n.name(), &n).second) fail("two nodes are named '" + n.name() + "'");
    }
  }

  [[noreturn]] void fail(const std::string& what) const { throw Error(origin_ + ": " + what); }
  const std::string& origin() const { return origin_; }
  std::size_t size() const { return by_name_.size(); }
  const tf::NodeDef* find(const std::string& name) const {
    const auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : it->second;
  }

  // Data input i of n ("^name" control inputs come after the data inputs).
  Tensor input(const tf::NodeDef& n, int i) const {
    if (i >= n.input_size() || starts_with(n.input(i), "^")) {
      fail(fmt::format("{} ({}) has no input {}", n.name(), n.op(), i));
    }
    std::string name = n.input(i);
    int output = 0;
    const auto colon = name.rfind(':');
    if (colon != std::string::npos) {
      const std::string digits = name.substr(colon + 1);
      if (digits.empty() || digits.size() > 6 ||
          !std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) {
        fail(fmt::format("{} reads '{}', which is not a tensor name", n.name(), n.input(i)));
      }
      output = std::stoi(digits);
      name.resize(colon);
    }
    const auto it = by_name_.find(name);
    if (it == by_name_.end()) fail(fmt::format("{} reads {}, which the graph lacks", n.name(), name));
    return {it->second, output};
  }

  int data_inputs(const tf::NodeDef& n) const {
    int k = 0;
    while (k < n.input_size() && !starts_with(n.input(k), "^")) ++k;
    return k;
  }

  // The variable a tensor reads, through Identity/ReadVariableOp chains
  // (hidden1/kernel/read -> hidden1/kernel), or nullptr.
  const tf::NodeDef* variable(Tensor t) const {
    for (std::size_t steps = 0; steps <= size(); ++steps) {
      const std::string& op = t.node->op();
      if (op == "VariableV2" || op == "Variable" || op == "VarHandleOp") return t.node;
      if ((op != "Identity" && op != "ReadVariableOp") || data_inputs(*t.node) != 1) return nullptr;
      t = input(*t.node, 0);
    }
    fail("a cycle of Identity nodes reaches " + t.node->name());
  }

  // Skips Identity nodes on the data path (not variable reads).
  Tensor through_identity(Tensor t) const {
    for (std::size_t steps = 0; steps <= size(); ++steps) {
      if (t.node->op() != "Identity" || data_inputs(*t.node) != 1) return t;
      t = input(*t.node, 0);
    }
    fail("a cycle of Identity nodes reaches " + t.node->name());
  }

  std::vector<const tf::NodeDef*> nodes_with_op(const std::vector<std::string>& ops) const {
    std::vector<const tf::NodeDef*> out;
    for (const auto& [name, n] : by_name_) {
      if (std::find(ops.begin(), ops.end(), n->op()) != ops.end()) out.push_back(n);
    }
    std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->name() < b->name(); });
    return out;
  }

 private:
  std::string origin_;
  std::unordered_map<std::string, const tf::NodeDef*> by_name_;
};

inline const tf::AttrValue* attr(const tf::NodeDef& n, const char* key) {
  const auto it = n.attr().find(key);
  return it == n.attr().end() ? nullptr : &it->second;
}

// The value of a scalar float Const (shape [] or all ones), or nullopt.
inline std::optional<double> scalar_constant(const Graph& g, Tensor t) {
  t = g.through_identity(t);
  if (t.node->op() != "Const" || t.output != 0) return std::nullopt;
  const tf::AttrValue* v = attr(*t.node, "value");
  if (!v || !v->has_tensor()) return std::nullopt;
  const tf::TensorProto& p = v->tensor();
  for (const auto& d : p.tensor_shape().dim()) {
    if (d.size() != 1) return std::nullopt;
  }
  if (p.dtype() == 1) {  // DT_FLOAT
    if (p.float_val_size() == 1) return p.float_val(0);
    if (p.tensor_content().size() == sizeof(float)) {
      float f;
      std::memcpy(&f, p.tensor_content().data(), sizeof f);
      return f;
    }
  } else if (p.dtype() == 2) {  // DT_DOUBLE
    if (p.double_val_size() == 1) return p.double_val(0);
    if (p.tensor_content().size() == sizeof(double)) {
      double d;
      std::memcpy(&d, p.tensor_content().data(), sizeof d);
      return d;
    }
  }
  return std::nullopt;
}

// A Const scalar bool false (the default of tf.layers' `training` placeholder).
inline bool false_constant(const Graph& g, Tensor t) {
  t = g.through_identity(t);
  if (t.node->op() != "Const") return false;
  const tf::AttrValue* v = attr(*t.node, "value");
  if (!v || !v->has_tensor() || v->tensor().dtype() != 10 || v->tensor().tensor_shape().dim_size() != 0) return false;
  const tf::TensorProto& p = v->tensor();
  if (p.bool_val_size() == 1) return !p.bool_val(0);
  return p.bool_val_size() == 0 && p.tensor_content().size() == 1 && p.tensor_content()[0] == 0;
}

// Whether a tf.cond predicate (the Switch's input 1) is a placeholder that
// defaults to false: tf.layers' `training`, Keras's learning phase,
// tf.contrib's `is_training` as tf.placeholder_with_default(False, ()). At
// inference such a cond takes its false branch, Switch output 0.
inline bool false_by_default(const Graph& g, Tensor pred) {
  const tf::NodeDef* p = g.through_identity(pred).node;
  return p->op() == "PlaceholderWithDefault" && g.data_inputs(*p) == 1 && false_constant(g, g.input(*p, 0));
}

inline bool is_switch(const tf::NodeDef& n) { return n.op() == "Switch" || n.op() == "RefSwitch"; }

// The shape attr of a variable node ([] when it has none).
inline std::vector<int64_t> shape_of_variable(const tf::NodeDef& var) {
  std::vector<int64_t> dims;
  const tf::AttrValue* s = attr(var, "shape");
  if (!s || !s->has_shape() || s->shape().unknown_rank()) return dims;
  for (const auto& d : s->shape().dim()) dims.push_back(d.size());
  return dims;
}

// The values of a float (or double) Const, with its shape: a single value
// stands for every element of its shape, as TensorFlow broadcasts
// tf.constant(1.0, shape=[n]). nullopt for anything else, or a tensor of
// more than 2^24 elements (a graph that claims one is not a dense network's).
struct ConstantValues {
  std::vector<double> values;
  std::vector<int64_t> shape;
};

inline std::optional<ConstantValues> float_constant(const Graph& g, Tensor t) {
  t = g.through_identity(t);
  if (t.node->op() != "Const" || t.output != 0) return std::nullopt;
  const tf::AttrValue* v = attr(*t.node, "value");
  if (!v || !v->has_tensor()) return std::nullopt;
  const tf::TensorProto& p = v->tensor();
  if (p.dtype() != 1 && p.dtype() != 2) return std::nullopt;  // DT_FLOAT, DT_DOUBLE
  constexpr int64_t kMaxElements = int64_t{1} << 24;
  ConstantValues c;
  int64_t elements = 1;
  for (const auto& d : p.tensor_shape().dim()) {
    if (d.size() < 0 || d.size() > kMaxElements) return std::nullopt;
    elements *= d.size();
    if (elements > kMaxElements) return std::nullopt;
    c.shape.push_back(d.size());
  }
  const std::size_t n = static_cast<std::size_t>(elements);
  const std::size_t width = p.dtype() == 1 ? sizeof(float) : sizeof(double);
  if (!p.tensor_content().empty()) {
    if (p.tensor_content().size() != n * width) return std::nullopt;
    c.values.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (p.dtype() == 1) {
        float f;
        std::memcpy(&f, p.tensor_content().data() + i * width, width);
        c.values[i] = f;
      } else {
        std::memcpy(&c.values[i], p.tensor_content().data() + i * width, width);
      }
    }
    return c;
  }
  const int count = p.dtype() == 1 ? p.float_val_size() : p.double_val_size();
  auto value = [&](int i) { return p.dtype() == 1 ? static_cast<double>(p.float_val(i)) : p.double_val(i); };
  if (count == 1) {
    c.values.assign(n, value(0));  // one value fills the shape
  } else if (count > 0 && static_cast<std::size_t>(count) <= n) {
    // TensorFlow repeats the last value to fill the shape.
    for (std::size_t i = 0; i < n; ++i) c.values.push_back(value(static_cast<int>(std::min<std::size_t>(i, count - 1))));
  } else {
    return std::nullopt;
  }
  return c;
}

// The values of an int32/int64 Const vector (a Reshape's shape, an
// ExpandDims axis), or nullopt.
inline std::optional<std::vector<int64_t>> int_constant(const Graph& g, Tensor t) {
  t = g.through_identity(t);
  if (t.node->op() != "Const" || t.output != 0) return std::nullopt;
  const tf::AttrValue* v = attr(*t.node, "value");
  if (!v || !v->has_tensor()) return std::nullopt;
  const tf::TensorProto& p = v->tensor();
  if (p.dtype() != 3 && p.dtype() != 9) return std::nullopt;  // DT_INT32, DT_INT64
  if (p.tensor_shape().dim_size() > 1) return std::nullopt;
  const int64_t n = p.tensor_shape().dim_size() == 0 ? 1 : p.tensor_shape().dim(0).size();
  if (n < 0 || n > 8) return std::nullopt;
  std::vector<int64_t> out;
  const std::size_t width = p.dtype() == 3 ? sizeof(int32_t) : sizeof(int64_t);
  if (!p.tensor_content().empty()) {
    if (p.tensor_content().size() != static_cast<std::size_t>(n) * width) return std::nullopt;
    for (int64_t i = 0; i < n; ++i) {
      if (p.dtype() == 3) {
        int32_t x;
        std::memcpy(&x, p.tensor_content().data() + i * 4, 4);
        out.push_back(x);
      } else {
        int64_t x;
        std::memcpy(&x, p.tensor_content().data() + i * 8, 8);
        out.push_back(x);
      }
    }
    return out;
  }
  const int count = p.dtype() == 3 ? p.int_val_size() : p.int64_val_size();
  if (count == 0 || count > n) return std::nullopt;
  for (int64_t i = 0; i < n; ++i) {
    const int k = static_cast<int>(std::min<int64_t>(i, count - 1));
    out.push_back(p.dtype() == 3 ? p.int_val(k) : p.int64_val(k));
  }
  return out;
}

}  // namespace graft::graph_walk
