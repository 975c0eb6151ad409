#pragma once
// Building small TensorFlow 1 graphs (GraphDef) node by node, as
// tf.train.Saver's `.meta` would hold them, for the graph-import tests.
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "meta_graph.pb.h"

namespace graft::test {

class GraphBuilder {
 public:
  tf::NodeDef& node(const std::string& name, const std::string& op, const std::vector<std::string>& inputs = {}) {
    tf::NodeDef* n = graph_.add_node();
    n->set_name(name);
    n->set_op(op);
    for (const std::string& i : inputs) n->add_input(i);
    return *n;
  }

  static void shape_attr(tf::NodeDef& n, const char* key, const std::vector<int64_t>& dims) {
    tf::TensorShapeProto* s = (*n.mutable_attr())[key].mutable_shape();
    for (int64_t d : dims) s->add_dim()->set_size(d);
  }

  tf::NodeDef& placeholder(const std::string& name, const std::vector<int64_t>& dims) {
    tf::NodeDef& n = node(name, "Placeholder");
    shape_attr(n, "shape", dims);
    (*n.mutable_attr())["dtype"].set_type(1);
    return n;
  }

  // VariableV2 NAME plus its NAME/read Identity; returns the read's name.
  std::string variable(const std::string& name, const std::vector<int64_t>& dims) {
    shape_attr(node(name, "VariableV2"), "shape", dims);
    node(name + "/read", "Identity", {name});
    return name + "/read";
  }

  // A scalar float Const.
  std::string constant(const std::string& name, float value) {
    tf::TensorProto* t = (*node(name, "Const").mutable_attr())["value"].mutable_tensor();
    t->set_dtype(1);
    t->add_float_val(value);
    return name;
  }

  // A float Const of shape `dims` holding `values` (one value fills the
  // shape, as tf.constant(1.0, shape=[n]) writes it) in float_val.
  std::string constant(const std::string& name, const std::vector<float>& values, const std::vector<int64_t>& dims) {
    tf::TensorProto* t = (*node(name, "Const").mutable_attr())["value"].mutable_tensor();
    t->set_dtype(1);
    for (int64_t d : dims) t->mutable_tensor_shape()->add_dim()->set_size(d);
    for (float v : values) t->add_float_val(v);
    return name;
  }

  // The same values as little-endian bytes in tensor_content (what numpy arrays become).
  std::string constant_content(const std::string& name, const std::vector<float>& values,
                               const std::vector<int64_t>& dims) {
    tf::TensorProto* t = (*node(name, "Const").mutable_attr())["value"].mutable_tensor();
    t->set_dtype(1);
    for (int64_t d : dims) t->mutable_tensor_shape()->add_dim()->set_size(d);
    t->set_tensor_content(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
    return name;
  }

  // An int32 Const vector (a Reshape's shape, an ExpandDims axis: [] for one value).
  std::string int_constant(const std::string& name, const std::vector<int32_t>& values, bool scalar = false) {
    tf::TensorProto* t = (*node(name, "Const").mutable_attr())["value"].mutable_tensor();
    t->set_dtype(3);
    if (!scalar) t->mutable_tensor_shape()->add_dim()->set_size(static_cast<int64_t>(values.size()));
    t->set_tensor_content(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(int32_t)));
    return name;
  }

  // tf.placeholder_with_default(default_value, shape=()) of dtype bool.
  std::string bool_placeholder_with_default(const std::string& name, bool default_value) {
    tf::TensorProto* t = (*node(name + "/input", "Const").mutable_attr())["value"].mutable_tensor();
    t->set_dtype(10);  // DT_BOOL
    t->add_bool_val(default_value);
    node(name, "PlaceholderWithDefault", {name + "/input"});
    return name;
  }

  // The node named `name` (added before), to add inputs or attrs to.
  tf::NodeDef& at(const std::string& name) {
    for (tf::NodeDef& n : *graph_.mutable_node()) {
      if (n.name() == name) return n;
    }
    throw std::runtime_error("GraphBuilder: no node " + name);
  }

  bool has(const std::string& name) const {
    for (const tf::NodeDef& n : graph_.node()) {
      if (n.name() == name) return true;
    }
    return false;
  }

  // SCOPE/kernel [fan_in, units], SCOPE/bias, and x·W + b; returns the sum's name.
  std::string dense(const std::string& scope, const std::string& x, int64_t fan_in, int64_t units,
                    const std::string& add_op = "BiasAdd") {
    const std::string w = variable(scope + "/kernel", {fan_in, units});
    const std::string b = variable(scope + "/bias", {units});
    node("net/" + scope + "/MatMul", "MatMul", {x, w});
    node("net/" + scope + "/" + add_op, add_op, {"net/" + scope + "/MatMul", b});
    return "net/" + scope + "/" + add_op;
  }

  // The loss reading the logits, as tf.losses/tf.nn write it.
  void loss(const std::string& logits) {
    placeholder("y", {-1});
    node("loss/xent", "SparseSoftmaxCrossEntropyWithLogits", {logits, "y"});
  }

  const tf::GraphDef& graph() const { return graph_; }

  // A serialized MetaGraphDef holding the graph, as in a .meta file.
  std::string serialized() const {
    tf::MetaGraphDef meta;
    *meta.mutable_graph_def() = graph_;
    return meta.SerializeAsString();
  }

  // Writes serialized() to `path`.
  void write_meta(const std::string& path) const { std::ofstream(path, std::ios::binary) << serialized(); }

 private:
  tf::GraphDef graph_;
};

// X [-1, features] -> hidden (units, `activation` builds act(z) from z and
// returns its name) -> outputs (classes), with the loss.
inline GraphBuilder two_layer_graph(int64_t features, int64_t units, int64_t classes,
                                    const std::function<std::string(GraphBuilder&, const std::string&)>& activation) {
  GraphBuilder g;
  g.placeholder("X", {-1, features});
  const std::string z = g.dense("hidden1", "X", features, units);
  const std::string h = activation(g, z);
  g.loss(g.dense("outputs", h, units, classes));
  return g;
}

}  // namespace graft::test
