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


}  // namespace graft::graph_walk
