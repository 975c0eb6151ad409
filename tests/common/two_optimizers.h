#pragma once
// A checkpoint holding two optimizers' slots, as the book's transfer-learning
// exercise (Hands-On ML ch. 11) leaves one: X -> hidden1 -> outputs trained
// with tf.train.AdamOptimizer (slots VAR/Adam, VAR/Adam_1 and
// beta1_power/beta2_power, or train/beta1_power in a "train" name scope),
// then a second AdamOptimizer(name="Adam2") that trains outputs only (slots
// VAR/Adam2, VAR/Adam2_1; a second default-named one makes VAR/Adam_2,
// VAR/Adam_3) with its power scalars beta1_power_1, beta2_power_1. With
// `graph`, PREFIX.meta holds the network and both training ops (ApplyAdam
// nodes in creation order: the first optimizer's, then the second's).
//
// Every tensor holds one value that says whose it is (slot_value()), so a
// test can tell which set was restored.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "checkpoint/bundle_writer.h"
#include "tests/common/graph_builder.h"

namespace graft::test {

struct TwoOptimizers {
  int64_t inputs = 4, units = 3, classes = 2;
  std::string second = "Adam2";  // the second optimizer's name: "Adam2", or "Adam" (default-named)
  std::string first_scope;       // the first optimizer's power scalars' name scope ("" or "train")
  bool graph = true;             // write PREFIX.meta
  bool second_trains_hidden1 = false;  // the second optimizer also trains hidden1 (both layers)

  // The slot names of the second optimizer for a variable that the first
  // also trains: Adam2/Adam2_1, or Adam_2/Adam_3 for a default-named second.
  std::string second_m() const { return second == "Adam" ? "Adam_2" : second; }
  std::string second_v() const { return second == "Adam" ? "Adam_3" : second + "_1"; }
  std::string first_power(int i) const {
    return (first_scope.empty() ? "" : first_scope + "/") + "beta" + std::to_string(i) + "_power";
  }
  // beta1_power_1 at the top level; beta1_power when the first's are in a scope.
  std::string second_power(int i) const {
    return "beta" + std::to_string(i) + "_power" + (first_scope.empty() ? "_1" : "");
  }
  std::vector<std::string> variables() const {
    return {"hidden1/kernel", "hidden1/bias", "outputs/kernel", "outputs/bias"};
  }
  bool second_trains(const std::string& var) const {
    return second_trains_hidden1 || var.rfind("outputs/", 0) == 0;
  }
};

// The value of every element of a slot: 1 + optimizer * 2 + slot (1, 2 the
// first's m, v; 3, 4 the second's).
inline float slot_value(int optimizer, int slot) { return static_cast<float>(1 + optimizer * 2 + slot); }
// beta1 after 100 steps of the first optimizer, after 10 of the second.
inline float power_value(int optimizer, int i) {
  return static_cast<float>(std::pow(i == 1 ? 0.9 : 0.999, optimizer == 0 ? 100 : 10));
}

inline Shape two_optimizers_shape(const TwoOptimizers& o, const std::string& var) {
  if (var == "hidden1/kernel") return {o.inputs, o.units};
  if (var == "hidden1/bias") return {o.units};
  if (var == "outputs/kernel") return {o.units, o.classes};
  return {o.classes};
}

inline GraphBuilder two_optimizers_graph(const TwoOptimizers& o) {
  GraphBuilder g = two_layer_graph(o.inputs, o.units, o.classes, [](GraphBuilder& b, const std::string& z) {
    b.node("net/hidden1/Relu", "Relu", {z});
    return std::string("net/hidden1/Relu");
  });
  const auto dims = [&](const std::string& var) {
    const Shape s = two_optimizers_shape(o, var);
    return std::vector<int64_t>(s.begin(), s.end());
  };
  // One optimizer: its power scalars, slots, hyper-parameters and an
  // ApplyAdam per variable it trains, named as minimize() names them.
  const auto optimizer = [&](const std::string& scope, const std::string& m, const std::string& v,
                             const std::string& b1, const std::string& b2, bool all) {
    g.variable(b1, {});
    g.variable(b2, {});
    for (const char* h : {"learning_rate", "beta1", "beta2", "epsilon"}) g.constant(scope + "/" + h, 0.001f);
    for (const std::string& var : o.variables()) {
      if (!all && !o.second_trains(var)) continue;
      g.variable(var + "/" + m, dims(var));
      g.variable(var + "/" + v, dims(var));
      const std::string grad = "gradients_" + scope + "/" + var + "_grad";
      g.node(grad, "Identity", {var + "/read"});
      g.node(scope + "/update_" + var + "/ApplyAdam", "ApplyAdam",
             {var, var + "/" + m, var + "/" + v, b1 + "/read", b2 + "/read", scope + "/learning_rate",
              scope + "/beta1", scope + "/beta2", scope + "/epsilon", grad});
    }
  };
  optimizer((o.first_scope.empty() ? "" : o.first_scope + "/") + "Adam", "Adam", "Adam_1", o.first_power(1),
            o.first_power(2), true);
  optimizer(o.second == "Adam" ? "Adam_1" : o.second, o.second_m(), o.second_v(), o.second_power(1),
            o.second_power(2), false);
  return g;
}

inline void write_two_optimizers(const std::string& prefix, const TwoOptimizers& o) {
  struct Tensor {
    std::string key;
    Shape shape;
    std::vector<float> values;
    bool operator<(const Tensor& t) const { return key < t.key; }
  };
  std::vector<Tensor> tensors;
  for (const std::string& var : o.variables()) {
    const Shape shape = two_optimizers_shape(o, var);
    std::size_t n = 1;
    for (int64_t d : shape) n *= static_cast<std::size_t>(d);
    tensors.push_back({var, shape, std::vector<float>(n, 0.25f)});
    tensors.push_back({var + "/Adam", shape, std::vector<float>(n, slot_value(0, 0))});
    tensors.push_back({var + "/Adam_1", shape, std::vector<float>(n, slot_value(0, 1))});
    if (o.second_trains(var)) {
      tensors.push_back({var + "/" + o.second_m(), shape, std::vector<float>(n, slot_value(1, 0))});
      tensors.push_back({var + "/" + o.second_v(), shape, std::vector<float>(n, slot_value(1, 1))});
    }
  }
  for (int i : {1, 2}) {
    tensors.push_back({o.first_power(i), Shape{}, {power_value(0, i)}});
    tensors.push_back({o.second_power(i), Shape{}, {power_value(1, i)}});
  }
  std::sort(tensors.begin(), tensors.end());  // the Saver writes keys in bytewise order
  BundleWriter w(prefix);
  for (const Tensor& t : tensors) w.add_float(t.key, t.shape, t.values.data());
  w.finish();
  if (o.graph) two_optimizers_graph(o).write_meta(prefix + ".meta");
}

}  // namespace graft::test
