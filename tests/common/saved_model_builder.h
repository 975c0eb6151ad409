#pragma once
// Writing a Keras TF2 SavedModel directory byte by byte, as model.save()
// lays it out, for the SavedModel tests (nothing of TensorFlow's):
//   DIR/saved_model.pb      a SavedModel proto (saved_model_schema_version = 1,
//                           field 1; one MetaGraphDef in meta_graphs, field 2;
//                           tensorflow/core/protobuf/saved_model.proto)
//   DIR/variables/variables a tensor bundle (checkpoint/bundle_writer.h) with
//                           TF2 object-based keys and _CHECKPOINTABLE_OBJECT_GRAPH
//   DIR/keras_metadata.pb   a SavedMetadata (checkpoint/proto/saved_metadata.proto)
//                           whose JSON the test writes: the model's node "root"
//                           and one node per layer (root.layer_with_weights-N,
//                           root.layer-I), as Keras's save.py does.
// The object graph is TF's: the root's children are `variables` (the
// model's variables list, trainable ones first, then moving statistics)
// followed by layer_with_weights-N and layer-I; a variable's key is the
// first path to it, variables/K/... (newer TF) or layer_with_weights-N/LEAF/...
// (older TF, keys_by_layer). Header-only.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/bundle_writer.h"
#include "checkpoint/object_graph.h"
#include "meta_graph.pb.h"
#include "saved_metadata.pb.h"
#include "trackable_object_graph.pb.h"

namespace graft::test {

struct SavedTensor {
  std::string leaf;  // "kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance"
  Shape shape;
  std::vector<float> values;
};

// One entry of the model's config.layers: {"class_name": ..., "config": {...}}
// and, for layers with weights, its variables in Keras's order.
struct SavedLayer {
  nlohmann::json keras;
  std::vector<SavedTensor> weights;
};

struct SavedModelOptions {
  bool keys_by_layer = false;          // layer_with_weights-N/LEAF keys instead of variables/K
  bool object_graph = true;
  bool keras_metadata = true;
  nlohmann::json input_shape = nlohmann::json::array({nullptr, 784});  // an InputLayer first; null: none
  std::string model_class = "Sequential";
  std::string identifier = "_tf_keras_sequential";
};

// Deterministic values in [-scale, scale) (a hash of index and seed).
inline std::vector<float> wave(std::size_t n, uint32_t seed, float scale) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double x = std::sin(static_cast<double>(i) * 12.9898 + seed * 78.233) * 43758.5453;
    v[i] = static_cast<float>((x - std::floor(x)) * 2.0 - 1.0) * scale;
  }
  return v;
}

inline SavedLayer keras_dense(const std::string& name, int64_t fan_in, int64_t units, const std::string& activation,
                              uint32_t seed) {
  SavedLayer l;
  l.keras = {{"class_name", "Dense"},
             {"config",
              {{"name", name}, {"trainable", true}, {"dtype", "float32"}, {"units", units},
               {"activation", activation}, {"use_bias", true}}}};
  const float limit = static_cast<float>(std::sqrt(6.0 / static_cast<double>(fan_in + units)));
  l.weights.push_back({"kernel", {fan_in, units}, wave(static_cast<std::size_t>(fan_in * units), seed, limit)});
  l.weights.push_back({"bias", {units}, wave(static_cast<std::size_t>(units), seed + 1, 0.1f)});
  return l;
}

inline SavedLayer keras_batch_norm(const std::string& name, int64_t units, uint32_t seed, bool center = true,
                                   bool scale = true) {
  SavedLayer l;
  l.keras = {{"class_name", "BatchNormalization"},
             {"config",
              {{"name", name}, {"trainable", true}, {"dtype", "float32"}, {"axis", nlohmann::json::array({1})},
               {"momentum", 0.99}, {"epsilon", 0.001}, {"center", center}, {"scale", scale}}}};
  const auto n = static_cast<std::size_t>(units);
  std::vector<float> var = wave(n, seed + 3, 0.5f);
  for (float& v : var) v += 1.0f;  // positive
  if (scale) l.weights.push_back({"gamma", {units}, wave(n, seed, 0.3f)});
  if (scale) for (float& g : l.weights.back().values) g += 1.0f;
  if (center) l.weights.push_back({"beta", {units}, wave(n, seed + 1, 0.2f)});
  l.weights.push_back({"moving_mean", {units}, wave(n, seed + 2, 0.5f)});
  l.weights.push_back({"moving_variance", {units}, var});
  return l;
}

inline SavedLayer keras_layer(const std::string& class_name, nlohmann::json config) {
  SavedLayer l;
  l.keras = {{"class_name", class_name}, {"config", std::move(config)}};
  return l;
}

// The keras_metadata.pb bytes for these layers (also for tests that corrupt them).
inline std::string keras_metadata_bytes(const std::vector<SavedLayer>& layers, const SavedModelOptions& o) {
  nlohmann::json list = nlohmann::json::array();
  if (!o.input_shape.is_null()) {
    list.push_back({{"class_name", "InputLayer"},
                    {"config", {{"batch_input_shape", o.input_shape}, {"dtype", "float32"}, {"name", "input_1"}}}});
  }
  for (const SavedLayer& l : layers) list.push_back(l.keras);
  tf::SavedMetadata meta;
  tf::SavedObject* root = meta.add_nodes();
  root->set_node_id(0);
  root->set_node_path("root");
  root->set_identifier(o.identifier);
  root->mutable_version()->set_producer(2);
  root->mutable_version()->set_min_consumer(1);
  const nlohmann::json model = {{"name", "sequential"},
                                {"class_name", o.model_class},
                                {"trainable", true},
                                {"config", {{"name", "sequential"}, {"layers", list}}},
                                {"training_config", {{"loss", "sparse_categorical_crossentropy"}}}};
  root->set_metadata(model.dump());
  int with_weights = 0, index = 0, node = 1;
  for (const SavedLayer& l : layers) {
    tf::SavedObject* n = meta.add_nodes();
    n->set_node_id(node++);
    n->set_node_path(l.weights.empty() ? "root.layer-" + std::to_string(index)
                                       : "root.layer_with_weights-" + std::to_string(with_weights++));
    n->set_identifier("_tf_keras_layer");
    nlohmann::json j = {{"name", l.keras["config"]["name"]}, {"class_name", l.keras["class_name"]},
                        {"config", l.keras["config"]}};
    n->set_metadata(j.dump());
    ++index;
  }
  return meta.SerializeAsString();
}

// saved_model.pb: schema version 1 and one MetaGraphDef (a Placeholder).
inline std::string saved_model_bytes() {
  tf::MetaGraphDef meta;
  tf::NodeDef* x = meta.mutable_graph_def()->add_node();
  x->set_name("serving_default_input_1");
  x->set_op("Placeholder");
  const std::string m = meta.SerializeAsString();
  std::string out = {'\x08', '\x01', '\x12'};  // field 1 varint 1; field 2, length-delimited
  for (std::size_t n = m.size();; n >>= 7) {     // the length as a varint
    if (n < 0x80) {
      out += static_cast<char>(n);
      break;
    }
    out += static_cast<char>((n & 0x7f) | 0x80);
  }
  return out + m;
}

inline void write_saved_model(const std::filesystem::path& dir, const std::vector<SavedLayer>& layers,
                              const SavedModelOptions& o = {}) {
  namespace fs = std::filesystem;
  fs::create_directories(dir / "variables");
  std::ofstream(dir / "saved_model.pb", std::ios::binary) << saved_model_bytes();
  if (o.keras_metadata) std::ofstream(dir / "keras_metadata.pb", std::ios::binary) << keras_metadata_bytes(layers, o);

  // The object graph: root (0), its variables list (1), then per layer a
  // node with one child per variable; variable nodes carry the attribute.
  tf::TrackableObjectGraph graph;
  auto* root = graph.add_nodes();
  auto* list = graph.add_nodes();
  root->add_children()->set_node_id(1);
  root->mutable_children(0)->set_local_name("variables");
  struct Var {
    const SavedTensor* t;
    std::string layer_path, full_name;
    int node = 0;
  };
  std::vector<Var> vars;
  int with_weights = 0, index = 0;
  for (const SavedLayer& l : layers) {
    const std::string name = l.keras["config"]["name"].get<std::string>();
    std::vector<std::string> paths;
    if (!l.weights.empty()) paths.push_back("layer_with_weights-" + std::to_string(with_weights++));
    paths.push_back("layer-" + std::to_string(index++));
    const int layer_node = graph.nodes_size();
    auto* ln = graph.add_nodes();
    for (const std::string& p : paths) {
      auto* c = graph.mutable_nodes(0)->add_children();
      c->set_node_id(layer_node);
      c->set_local_name(p);
    }
    for (const SavedTensor& t : l.weights) {
      const int var_node = graph.nodes_size();
      auto* c = ln->add_children();
      c->set_node_id(var_node);
      c->set_local_name(t.leaf);
      graph.add_nodes();
      vars.push_back({&t, paths.front() + "/" + t.leaf, name + "/" + t.leaf, var_node});
    }
  }
  // Keras's variables list: trainable variables first, then the moving statistics.
  std::vector<const Var*> order;
  for (int pass = 0; pass < 2; ++pass) {
    for (const Var& v : vars) {
      const bool statistic = v.t->leaf == "moving_mean" || v.t->leaf == "moving_variance";
      if (statistic == (pass == 1)) order.push_back(&v);
    }
  }
  BundleWriter w((dir / "variables" / "variables").string());
  for (std::size_t k = 0; k < order.size(); ++k) {
    auto* c = list->add_children();
    c->set_node_id(order[k]->node);
    c->set_local_name(std::to_string(k));
    const std::string key = (o.keys_by_layer ? order[k]->layer_path : "variables/" + std::to_string(k)) +
                            "/.ATTRIBUTES/VARIABLE_VALUE";
    auto* attr = graph.mutable_nodes(order[k]->node)->add_attributes();
    attr->set_name("VARIABLE_VALUE");
    attr->set_full_name(order[k]->full_name);
    attr->set_checkpoint_key(key);
    w.add_float(key, order[k]->t->shape, order[k]->t->values.data());
  }
  if (o.object_graph) w.add_strings(kObjectGraphKey, {}, {graph.SerializeAsString()});
  w.finish();
}

}  // namespace graft::test
