#include "host/restore/checkpoint_model_resolution.h"

#include <fmt/format.h>

#include <algorithm>

#include "checkpoint/error.h"
#include "host/model/model_io.h"
#include "host/restore/tensorflow_model.h"

namespace graft {

std::string activation_text(const Activation& a) {
  return a.kind == ActivationKind::kLeakyRelu ? fmt::format("leaky_relu:{}", a.alpha) : activation_name(a);
}

namespace {

bool same_activation(const Activation& a, const Activation& b) {
  return a.kind == b.kind && (a.kind != ActivationKind::kLeakyRelu || a.alpha == b.alpha);
}

// Each hidden dense layer's activation, by name: its dense node's, or that of
// the batch norm after it when the normalisation comes before the
// activation (the dense node is then linear). Dropout and batch norm nodes
// are not layers of their own here; the output layer is left out.
std::vector<std::pair<std::string, Activation>> hidden_activations(const ModelDescription& m) {
  std::vector<std::pair<std::string, Activation>> out;
  std::size_t last_dense = 0;
  for (std::size_t i = 0; i < m.nodes.size(); ++i) {
    if (m.nodes[i].kind == NodeKind::kDense) last_dense = i;
  }
  for (std::size_t i = 0; i < last_dense; ++i) {
    const ModelNode& n = m.nodes[i];
    if (n.kind != NodeKind::kDense) continue;
    Activation a = n.activation;
    for (std::size_t j = i + 1; j < m.nodes.size() && m.nodes[j].kind != NodeKind::kDense; ++j) {
      if (a.kind == ActivationKind::kIdentity && m.nodes[j].kind == NodeKind::kBatchNorm) a = m.nodes[j].activation;
    }
    out.emplace_back(n.name, a);
  }
  return out;
}

}  // namespace

ResolvedCheckpointModel resolve_checkpoint_model(const BundleReader& reader, const CheckpointModelQuery& q) {
  auto name = [&q](const std::string& field) { return q.option_name ? q.option_name(field) : field; };
  ResolvedCheckpointModel r;
  r.recorded = read_model_description(reader);
  std::optional<TensorFlowModel> tf;
  if (!r.recorded) tf = tensorflow_model(reader);
  if (tf) {
    r.graph = tf->model;
    r.graph_where = tf->where();
  }
  const std::optional<ModelDescription>& known = r.known();
  const std::string known_where = r.recorded ? "the model recorded in " + reader.prefix() : tf ? tf->where() : "";

  if (known && q.activation) {
    for (const auto& [layer, a] : hidden_activations(*known)) {
      if (!same_activation(a, *q.activation)) {
        throw Error(name("activation") + " " + activation_text(*q.activation) + " contradicts " + known_where + " (" +
                    layer + " uses " + activation_text(a) + "): leave " + name("activation") + " out");
      }
    }
  }
  if (r.recorded && (!q.layers.empty() || !q.renames.empty())) {
    throw Error(name(q.layers.empty() ? "renames" : "layers") + " is for checkpoints that do not record their model; " +
                reader.prefix() + " records it (see graft inspect)");
  }
  if (known && q.layers.empty() && q.renames.empty()) {
    r.model = model_from_description(reader, *known);
    r.how = r.recorded ? "as recorded in the checkpoint" : "as its " + tf->what() + " defines it";
    // What a graph's batch norm and dropout nodes were read as, and what was
    // assumed; for Keras metadata, always (activation layers, softmax outputs).
    bool layered = tf && tf->keras;
    for (const ModelNode& n : known->nodes) layered = layered || n.kind != NodeKind::kDense;
    if (r.graph && (layered || !r.graph->input.read_from.empty())) {
      for (const std::string& fact : r.graph->read) r.notes.push_back("read: " + fact);
      for (const std::string& a : r.graph->assumptions) r.notes.push_back("assumed: " + a);
    }
    return r;
  }

  // Built from the variables (layers/renames ask for it, or nothing else is known).
  CheckpointModelOptions options;
  options.renames = parse_rename_rules(q.renames);
  options.layers = q.layers;
  std::optional<Activation> activation = q.activation;
  const auto graph_hidden = r.graph ? hidden_activations(*r.graph) : std::vector<std::pair<std::string, Activation>>{};
  if (r.graph && !activation && !graph_hidden.empty()) {
    activation = graph_hidden.front().second;
    for (const auto& [layer, a] : graph_hidden) {
      if (!same_activation(a, *activation)) {
        throw Error(known_where + " uses " + activation_text(*activation) + " and " + activation_text(a) +
                    " in different layers; with " + name("layers") + " or " + name("renames") +
                    " every hidden layer has one " + name("activation") + ": leave them out");
      }
    }
    r.notes.push_back("activation " + activation_text(*activation) + " for every hidden layer, from " + known_where);
  }
  // The activation only matters when there is a hidden layer; ask for it
  // after the layers are known, so a one-layer model needs nothing.
  options.activation = activation.value_or(Activation{});
  r.model = model_from_checkpoint(reader, options);
  r.notes.insert(r.notes.end(), r.model.assumptions.begin(), r.model.assumptions.end());
  bool hidden = false;  // a dense layer below the last one (batch norm nodes are not layers here)
  for (std::size_t i = 0; i + 1 < r.model.layers.size(); ++i) {
    hidden = hidden || (r.model.layers[i].kind == NodeKind::kDense && i + 1 < r.model.layers.size() &&
                        std::any_of(r.model.layers.begin() + static_cast<std::ptrdiff_t>(i) + 1, r.model.layers.end(),
                                    [](const CheckpointDenseLayer& c) { return c.kind == NodeKind::kDense; }));
  }
  if (!activation && hidden) {
    throw Error(reader.prefix() + " does not record its hidden layers' activation (no model description, " +
                no_tensorflow_model(reader) + "): pass " + name("activation") +
                " (relu, elu, selu, leaky_relu:ALPHA, tanh, sigmoid)");
  }
  r.how = tf ? "as its " + tf->what() + " defines it" : "rebuilt from its variables";
  return r;
}

}  // namespace graft
