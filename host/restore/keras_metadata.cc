#include "host/restore/keras_metadata.h"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "checkpoint/error.h"
#include "checkpoint/printable.h"
#include "saved_metadata.pb.h"

namespace graft {
namespace {

using json = nlohmann::json;

constexpr int64_t kMaxUnits = int64_t{1} << 31;
constexpr std::size_t kMaxLayers = 100000;

// A value in a message: scalars as JSON, containers by kind (a deep value is
// never dumped: dumping recurses).
std::string brief(const json& v) {
  if (v.is_object()) return "an object";
  if (v.is_array()) return "an array";
  std::string s = printable(v.dump());
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

class Parser {
 public:
  explicit Parser(std::string origin) : origin_(std::move(origin)) {}

  [[noreturn]] void fail(const std::string& what) const { throw Error(origin_ + ": " + what); }

  json parse_json(const std::string& text, const std::string& node) const {
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) fail("the metadata of node " + node + " is not valid JSON");
    if (!j.is_object()) fail("the metadata of node " + node + " is " + brief(j) + ", not a JSON object");
    return j;
  }

  // A layer's field, type-checked; `what` names the layer in errors.
  const json* find(const json& o, const char* key) const {
    const auto it = o.find(key);
    return it == o.end() || it->is_null() ? nullptr : &*it;
  }
  std::string str(const json& o, const char* key, const std::string& what) const {
    const json* v = find(o, key);
    if (!v) fail(what + " has no " + key);
    if (!v->is_string()) fail(what + ": " + key + " is " + brief(*v) + ", not a string");
    return v->get<std::string>();
  }
  bool flag(const json& o, const char* key, bool fallback, const std::string& what) const {
    const json* v = find(o, key);
    if (!v) return fallback;
    if (!v->is_boolean()) fail(what + ": " + key + " is " + brief(*v) + ", not true or false");
    return v->get<bool>();
  }
  double number(const json& o, const char* key, double fallback, const std::string& what) const {
    const json* v = find(o, key);
    if (!v) return fallback;
    if (!v->is_number() || !std::isfinite(v->get<double>())) {
      fail(what + ": " + key + " is " + brief(*v) + ", not a number");
    }
    return v->get<double>();
  }

  // "[None, 28, 28]" and the features per row (nullopt when a dimension is unknown).
  std::optional<int64_t> batch_shape(const json& shape, const std::string& what, std::string& text) const {
    if (!shape.is_array() || shape.empty()) fail(what + ": its batch input shape is " + brief(shape) + ", not a list");
    std::optional<int64_t> features = 1;
    text = "[None";
    for (std::size_t i = 1; i < shape.size(); ++i) {
      const json& d = shape[i];
      if (d.is_null()) {
        features.reset();
        text += ", None";
        continue;
      }
      if (!d.is_number_integer() || d.get<int64_t>() <= 0 || d.get<int64_t>() > kMaxUnits) {
        fail(what + ": its batch input shape holds " + brief(d) + ", not a positive size");
      }
      text += ", " + std::to_string(d.get<int64_t>());
      if (features) features = *features * d.get<int64_t>() > kMaxUnits ? kMaxUnits + 1 : *features * d.get<int64_t>();
    }
    text += "]";
    if (features && *features > kMaxUnits) fail(what + ": its input " + text + " has more features than graft runs");
    return features;
  }

  const std::string& origin() const { return origin_; }

 private:
  std::string origin_;
};

// Keras's activation names: its own, "linear" (none) and "softmax" (the
// output's, which graft applies itself); nullopt for any other.
std::optional<Activation> keras_activation(const std::string& name, bool& softmax) {
  softmax = name == "softmax";
  if (softmax || name == "linear") return Activation{ActivationKind::kIdentity};
  if (name == "relu") return Activation{ActivationKind::kRelu};
  if (name == "elu") return Activation{ActivationKind::kElu};
  if (name == "selu") return Activation{ActivationKind::kSelu};
  if (name == "tanh") return Activation{ActivationKind::kTanh};
  if (name == "sigmoid") return Activation{ActivationKind::kSigmoid};
  if (name == "leaky_relu") return Activation{ActivationKind::kLeakyRelu, 0.2f};  // tf.nn.leaky_relu's alpha
  return std::nullopt;
}

constexpr const char* kActivationsRun =
    "graft runs relu, elu, selu, leaky_relu, tanh, sigmoid and linear, and softmax on the output layer";

// The activation a config names: a string, or Keras 3's {"config": "relu", ...}.
void read_activation(const Parser& p, const json& config, const std::string& what, KerasLayer& into) {
  const json* v = p.find(config, "activation");
  if (!v) return;  // Keras's default: linear
  std::string name;
  if (v->is_string()) {
    name = v->get<std::string>();
  } else if (v->is_object() && v->contains("config") && (*v)["config"].is_string()) {
    name = (*v)["config"].get<std::string>();
  } else {
    p.fail(what + ": activation is " + brief(*v) + ", not an activation's name");
  }
  const std::optional<Activation> a = keras_activation(name, into.softmax);
  if (!a) p.fail(what + " uses activation '" + printable(name) + "', which graft cannot run (" + kActivationsRun + ")");
  into.activation = *a;
}

// The layers of the model node's config, in the order data flows through
// them: a Sequential's list, or a functional model's chain from its one
// input to its one output (refused when it is not a chain).
std::vector<const json*> layer_order(const Parser& p, const json& config, const std::string& class_name) {
  const json* layers = p.find(config, "layers");
  if (!layers || !layers->is_array()) p.fail("the model's config.layers is not a list");
  if (layers->size() > kMaxLayers) p.fail(fmt::format("the model lists {} layers", layers->size()));
  std::vector<const json*> all;
  for (const json& l : *layers) {
    if (!l.is_object()) p.fail("the model's config.layers holds " + brief(l) + ", not a layer");
    all.push_back(&l);
  }
  if (class_name == "Sequential") return all;

  // Functional: name -> layer, then back from the output along inbound_nodes.
  std::map<std::string, const json*> by_name;
  auto layer_name = [&](const json& l) {
    const json* n = p.find(l, "name");
    if (!n || !n->is_string()) {
      const json* c = p.find(l, "config");
      n = c && c->is_object() ? p.find(*c, "name") : nullptr;
    }
    if (!n || !n->is_string()) p.fail("a layer of the functional model " + class_name + " has no name");
    return n->get<std::string>();
  };
  for (const json* l : all) by_name[layer_name(*l)] = l;
  auto refs = [&](const char* key) {
    std::vector<std::string> names;
    const json* v = p.find(config, key);
    if (!v || !v->is_array()) p.fail(std::string("the functional model's config has no ") + key);
    const bool single = !v->empty() && (*v)[0].is_string();  // ["input_1", 0, 0]
    for (const json& r : single ? json::array({*v}) : *v) {
      if (!r.is_array() || r.empty() || !r[0].is_string()) p.fail(std::string("config.") + key + " holds " + brief(r));
      names.push_back(printable(r[0].get<std::string>()));
    }
    return names;
  };
  const std::vector<std::string> inputs = refs("input_layers"), outputs = refs("output_layers");
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  if (inputs.size() != 1) {
    p.fail(fmt::format("the functional model has {} inputs ({}); graft runs a network of one input", inputs.size(),
                       list(inputs)));
  }
  if (outputs.size() != 1) {
    p.fail(fmt::format("the functional model has {} outputs ({}); graft runs a network of one output", outputs.size(),
                       list(outputs)));
  }
  std::vector<const json*> chain;
  std::set<std::string> seen;
  std::string at = outputs.front();
  while (true) {
    const auto it = by_name.find(at);
    if (it == by_name.end()) p.fail("the functional model refers to a layer " + printable(at) + " it does not list");
    if (!seen.insert(at).second) p.fail("layer " + printable(at) + " feeds itself");
    chain.push_back(it->second);
    if (at == inputs.front()) break;
    const json* inbound = p.find(*it->second, "inbound_nodes");
    if (!inbound || !inbound->is_array() || inbound->empty()) {
      p.fail("layer " + printable(at) + " is not connected to the model's input " + inputs.front());
    }
    if (inbound->size() > 1) {
      p.fail(fmt::format("layer {} is called {} times (a shared layer); graft runs a chain of layers", printable(at),
                         inbound->size()));
    }
    // Keras 2: [[["dense", 0, 0, {}]]]; Keras 3: [{"args": [{"config": {"keras_history": ["dense", 0, 0]}}]}].
    const json& node = (*inbound)[0];
    std::vector<std::string> sources;
    if (node.is_array()) {
      for (const json& t : node) {
        if (t.is_array() && !t.empty() && t[0].is_string()) sources.push_back(printable(t[0].get<std::string>()));
      }
      if (sources.size() != node.size()) sources.clear();
    } else if (node.is_object() && node.contains("args") && node["args"].is_array()) {
      for (const json& t : node["args"]) {
        const json* c = t.is_object() ? p.find(t, "config") : nullptr;
        const json* h = c && c->is_object() ? p.find(*c, "keras_history") : nullptr;
        if (h && h->is_array() && !h->empty() && (*h)[0].is_string()) {
          sources.push_back(printable((*h)[0].get<std::string>()));
        }
      }
    }
    if (sources.empty()) p.fail("layer " + printable(at) + "'s inbound_nodes are not in a form graft reads");
    if (sources.size() > 1) {
      p.fail(fmt::format("layer {} takes {} inputs ({}); graft runs a chain of layers", printable(at), sources.size(),
                         list(sources)));
    }
    at = sources.front();
  }
  std::reverse(chain.begin(), chain.end());
  if (chain.size() != all.size()) {
    for (const json* l : all) {
      if (!seen.count(layer_name(*l))) {
        p.fail("layer " + printable(layer_name(*l)) + " is not on the path from the input " + inputs.front() +
               " to the output " + outputs.front());
      }
    }
  }
  return chain;
}

// Folds an activation layer into the layer before it.
void fold_activation(const Parser& p, std::vector<KerasLayer>& out, const std::string& what, const std::string& name,
                     const Activation& a, bool softmax) {
  if (out.empty()) p.fail(what + " comes before any dense layer; graft applies activations to a layer's output");
  KerasLayer& prev = out.back();
  if (prev.kind == NodeKind::kDropout) {
    p.fail(what + " follows the dropout layer " + prev.name +
           "; graft applies activations to dense and batch normalization outputs");
  }
  if (prev.activation.kind != ActivationKind::kIdentity || prev.softmax) {
    p.fail(what + " follows layer " + prev.name + ", which already has an activation");
  }
  prev.activation = a;
  prev.softmax = softmax;
  prev.activation_from = name;
}

KerasLayer read_layer(const Parser& p, const json& layer, std::size_t index, std::vector<KerasLayer>& out,
                      KerasModel& model, std::vector<int64_t>& shape_rank) {
  const bool first = index == 0;
  const json* cn = p.find(layer, "class_name");
  if (!cn || !cn->is_string()) p.fail("a layer in config.layers has no class_name");
  const std::string cls = printable(cn->get<std::string>());
  const json* cfg = p.find(layer, "config");
  if (!cfg || !cfg->is_object()) p.fail("layer of class " + cls + " has no config");
  const json& config = *cfg;
  const json* nm = p.find(config, "name");
  const bool named = nm && nm->is_string() && !nm->get<std::string>().empty();
  const std::string name = named ? printable(nm->get<std::string>()) : "layer_" + std::to_string(index);
  const std::string what = named ? "layer " + name + " (" + cls + ")"
                                 : "the unnamed " + cls + " layer (config.layers[" + std::to_string(index) + "])";
  KerasLayer l;
  l.class_name = cls;
  l.name = name;
  l.trainable = p.flag(config, "trainable", true, what);

  // The input's shape: an InputLayer's, or the first layer's batch_input_shape.
  const json* shape = p.find(config, "batch_input_shape");
  if (!shape) shape = p.find(config, "batch_shape");  // Keras 3
  if (shape && first) {
    model.input_features = p.batch_shape(*shape, what, model.input_shape);
    shape_rank.assign(1, static_cast<int64_t>(shape->is_array() ? shape->size() : 2));
  }
  if (cls == "InputLayer") {
    if (!first) p.fail(what + " is not the model's first layer");
    l.class_name.clear();  // shape-only: not a node
    return l;
  }
  if (cls == "Flatten") {
    shape_rank.assign(1, 2);
    l.class_name.clear();
    return l;
  }
  if (cls == "Activation" || cls == "ReLU" || cls == "LeakyReLU" || cls == "ELU" || cls == "Softmax") {
    KerasLayer act;
    if (cls == "Activation") {
      read_activation(p, config, what, act);
    } else if (cls == "Softmax") {
      act.softmax = true;
    } else if (cls == "ELU") {
      if (p.number(config, "alpha", 1.0, what) != 1.0) p.fail(what + " has alpha != 1; graft's elu has alpha 1");
      act.activation = Activation{ActivationKind::kElu};
    } else if (cls == "LeakyReLU") {
      const double alpha = p.number(config, "negative_slope", p.number(config, "alpha", 0.3, what), what);
      if (!(alpha >= 0.0 && alpha < 1.0)) p.fail(fmt::format("{} has alpha {}; graft runs 0 <= alpha < 1", what, alpha));
      act.activation = Activation{ActivationKind::kLeakyRelu, static_cast<float>(alpha)};
    } else {  // ReLU(max_value=None, negative_slope, threshold=0)
      if (p.find(config, "max_value") || p.number(config, "threshold", 0.0, what) != 0.0) {
        p.fail(what + " has a max_value or threshold; graft's relu has neither");
      }
      const double slope = p.number(config, "negative_slope", 0.0, what);
      if (!(slope >= 0.0 && slope < 1.0)) p.fail(fmt::format("{} has negative_slope {}", what, slope));
      act.activation = slope == 0.0 ? Activation{ActivationKind::kRelu}
                                    : Activation{ActivationKind::kLeakyRelu, static_cast<float>(slope)};
    }
    fold_activation(p, out, what, name, act.activation, act.softmax);
    l.class_name.clear();
    return l;
  }
  if (cls == "Dense" || cls == "BatchNormalization" || cls == "Dropout") {
    if (shape_rank.size() == 1 && shape_rank.front() > 2) {
      p.fail(what + " takes the input " + model.input_shape +
             " without a Flatten before it; graft's layers take one row of features per example");
    }
  }
  if (cls == "Dense") {
    l.kind = NodeKind::kDense;
    const json* units = p.find(config, "units");
    if (!units || !units->is_number_integer() || units->get<int64_t>() <= 0 || units->get<int64_t>() > kMaxUnits) {
      p.fail(what + ": units is " + (units ? brief(*units) : std::string("missing")) + ", not a positive integer");
    }
    l.units = units->get<int64_t>();
    read_activation(p, config, what, l);
    if (!p.flag(config, "use_bias", true, what)) {
      p.fail(what + " has no bias (use_bias false); graft's dense layers have one");
    }
    return l;
  }
  if (cls == "BatchNormalization") {
    l.kind = NodeKind::kBatchNorm;
    const json* axis = p.find(config, "axis");
    const json* a = axis && axis->is_array() && axis->size() == 1 ? &(*axis)[0] : axis;
    if (a && (!a->is_number_integer() || (a->get<int64_t>() != -1 && a->get<int64_t>() != 1))) {
      p.fail(what + " normalizes over axis " + brief(*axis) + "; graft normalizes each feature (axis -1 of [N, features])");
    }
    const double momentum = p.number(config, "momentum", 0.99, what);
    const double epsilon = p.number(config, "epsilon", 0.001, what);
    if (!(momentum >= 0.0 && momentum <= 1.0)) p.fail(fmt::format("{}: momentum {} is not in [0, 1]", what, momentum));
    if (!(epsilon > 0.0 && epsilon < 1e6)) p.fail(fmt::format("{}: epsilon {} is not positive", what, epsilon));
    l.batch_norm.momentum = momentum;
    l.batch_norm.epsilon = static_cast<float>(epsilon);
    l.batch_norm.center = p.flag(config, "center", true, what);
    l.batch_norm.scale = p.flag(config, "scale", true, what);
    if (p.flag(config, "renorm", false, what)) p.fail(what + " uses batch renormalization, which graft does not run");
    for (const char* key : {"virtual_batch_size", "adjustment"}) {
      if (p.find(config, key)) p.fail(what + " sets " + key + ", which graft does not run");
    }
    return l;
  }
  if (cls == "Dropout") {
    l.kind = NodeKind::kDropout;
    l.rate = p.number(config, "rate", 0.0, what);
    if (!(l.rate >= 0.0 && l.rate < 1.0)) p.fail(fmt::format("{}: rate {} is not in [0, 1)", what, l.rate));
    if (p.find(config, "noise_shape")) p.fail(what + " sets a noise_shape; graft drops each unit on its own");
    return l;
  }
  if (cls == "Sequential" || cls == "Functional" || cls == "Model") {
    p.fail(what + " is a nested model; graft reads one level of layers");
  }
  p.fail(what + " is a " + cls +
         " layer, which graft cannot run (graft runs Dense, BatchNormalization and Dropout layers, activation "
         "layers, Flatten and InputLayer)");
}

// Each top-level layer's node: its name -> its path below the root
// ("root.layer_with_weights-0" -> {"layer_with_weights-0"}).
std::map<std::string, std::vector<std::string>> layer_paths(const Parser& p, const tf::SavedMetadata& meta) {
  std::map<std::string, std::vector<std::string>> out;
  for (const tf::SavedObject& node : meta.nodes()) {
    if (node.identifier() != "_tf_keras_layer" || node.node_path().rfind("root.", 0) != 0) continue;
    std::vector<std::string> path;
    std::string rest = node.node_path().substr(5);
    for (std::size_t dot; (dot = rest.find('.')) != std::string::npos; rest = rest.substr(dot + 1)) {
      path.push_back(rest.substr(0, dot));
    }
    path.push_back(rest);
    if (path.size() != 1) continue;  // a layer's own sublayers, or the model's keras_api lists
    const json j = p.parse_json(node.metadata(), printable(node.node_path()));
    const json* name = p.find(j, "name");
    if (!name || !name->is_string()) continue;
    auto [it, fresh] = out.emplace(printable(name->get<std::string>()), path);
    // One node per layer; were it listed twice, its layer_with_weights path is where Keras keeps its variables.
    if (!fresh && path.front().rfind("layer_with_weights-", 0) == 0) it->second = path;
  }
  return out;
}

}  // namespace

KerasModel parse_keras_metadata(std::string_view bytes, const std::string& origin) {
  const Parser p(origin);
  tf::SavedMetadata meta;
  if (bytes.size() > static_cast<std::size_t>(INT_MAX) ||
      !meta.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    p.fail("not a Keras SavedMetadata (truncated or corrupt)");
  }
  if (meta.nodes_size() == 0) p.fail("no Keras objects in it (an empty SavedMetadata)");
  const tf::SavedObject* root = nullptr;
  for (const tf::SavedObject& node : meta.nodes()) {
    if (node.node_path() == "root") root = &node;
  }
  if (!root) p.fail("no Keras object at node_path root (the model)");
  static const std::set<std::string> kModels = {"_tf_keras_sequential", "_tf_keras_network", "_tf_keras_model"};
  const json top = p.parse_json(root->metadata(), "root");
  KerasModel model;
  model.origin = origin;
  const json* cn = p.find(top, "class_name");
  model.class_name = cn && cn->is_string() ? printable(cn->get<std::string>()) : "";
  const json* nm = p.find(top, "name");
  model.name = nm && nm->is_string() ? printable(nm->get<std::string>()) : "model";
  if (!kModels.count(root->identifier())) {
    p.fail("the saved object is " + printable(root->identifier()) + " " + model.class_name +
           ", not a Keras model (graft reads Sequential and functional models)");
  }
  const json* config = p.find(top, "config");
  if (!config || !config->is_object() || !p.find(*config, "layers")) {
    p.fail("the model " + model.name + " (" + (model.class_name.empty() ? "?" : model.class_name) +
           ") is a subclassed Keras model: its metadata lists no layers, so the network is not recorded (graft "
           "reads Sequential and functional models)");
  }
  if (const json* tc = p.find(top, "training_config"); tc && tc->is_object()) {
    if (const json* loss = p.find(*tc, "loss"); loss && loss->is_string()) model.loss = printable(loss->get<std::string>());
  }

  const std::map<std::string, std::vector<std::string>> paths = layer_paths(p, meta);
  std::vector<int64_t> shape_rank;
  std::size_t index = 0;
  for (const json* layer : layer_order(p, *config, model.class_name)) {
    KerasLayer l = read_layer(p, *layer, index++, model.layers, model, shape_rank);
    if (l.class_name.empty()) continue;  // shape-only or folded into the layer before
    if (const auto it = paths.find(l.name); it != paths.end()) l.object_path = it->second;
    model.layers.push_back(std::move(l));
  }
  int weights = 0;
  for (KerasLayer& l : model.layers) {
    if (l.kind != NodeKind::kDropout) l.weight_index = weights++;
  }
  if (weights == 0) p.fail("the model " + model.name + " has no dense layer");
  // The output: logits (linear), or softmax, which is graft's own probabilities.
  std::size_t last = model.layers.size() - 1;
  while (last > 0 && model.layers[last].kind == NodeKind::kDropout) --last;
  for (std::size_t i = 0; i < model.layers.size(); ++i) {
    const KerasLayer& l = model.layers[i];
    const std::string what = "layer " + (l.activation_from.empty() ? l.name : l.activation_from);
    if (l.softmax && i != last) p.fail(what + " applies softmax inside the network; graft applies it to the output only");
    if (i == last && l.activation.kind != ActivationKind::kIdentity) {
      p.fail("the output layer " + l.name + " has activation " + activation_name(l.activation) +
             "; graft's output layer gives logits (linear, or softmax, which graft applies itself)");
    }
  }
  if (model.layers.front().kind != NodeKind::kDense) {
    p.fail("the model's first layer " + model.layers.front().name + " is a " + model.layers.front().class_name +
           "; graft's networks start with a dense layer");
  }
  return model;
}

}  // namespace graft
