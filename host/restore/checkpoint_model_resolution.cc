#include "host/restore/checkpoint_model_resolution.h"

#include <fmt/format.h>

#include "checkpoint/error.h"
#include "checkpoint/meta_graph.h"
#include "host/model/model_io.h"
#include "host/restore/graph_import.h"

namespace graft {

std::string activation_text(const Activation& a) {
  return a.kind == ActivationKind::kLeakyRelu ? fmt::format("leaky_relu:{}", a.alpha) : activation_name(a);
}

namespace {

bool same_activation(const Activation& a, const Activation& b) {
  return a.kind == b.kind && (a.kind != ActivationKind::kLeakyRelu || a.alpha == b.alpha);
}

}  // namespace

ResolvedCheckpointModel resolve_checkpoint_model(const BundleReader& reader, const CheckpointModelQuery& q) {
  auto name = [&q](const std::string& field) { return q.option_name ? q.option_name(field) : field; };
  ResolvedCheckpointModel r;
  r.recorded = read_model_description(reader);
  if (!r.recorded) r.graph = model_from_meta_graph(reader.prefix());
  const std::optional<ModelDescription>& known = r.known();
  const std::string known_where =
      r.recorded ? "the model recorded in " + reader.prefix() : "the graph " + meta_graph_path(reader.prefix());

  if (known && q.activation) {
    for (std::size_t i = 0; i + 1 < known->nodes.size(); ++i) {
      const Activation& a = known->nodes[i].activation;
      if (!same_activation(a, *q.activation)) {
        throw Error(name("activation") + " " + activation_text(*q.activation) + " contradicts " + known_where + " (" +
                    known->nodes[i].name + " uses " + activation_text(a) + "): leave " + name("activation") + " out");
      }
    }
  }
  if (r.recorded && (!q.layers.empty() || !q.renames.empty())) {
    throw Error(name(q.layers.empty() ? "renames" : "layers") + " is for checkpoints that do not record their model; " +
                reader.prefix() + " records it (see graft inspect)");
  }
  if (known && q.layers.empty() && q.renames.empty()) {
    r.model = model_from_description(reader, *known);
    r.how = r.recorded ? "as recorded in the checkpoint"
                       : "as its TensorFlow graph " + meta_graph_path(reader.prefix()) + " defines it";
    return r;
  }

  // Built from the variables (layers/renames ask for it, or nothing else is known).
  CheckpointModelOptions options;
  options.renames = parse_rename_rules(q.renames);
  options.layers = q.layers;
  std::optional<Activation> activation = q.activation;
  if (r.graph && !activation && r.graph->nodes.size() > 1) {
    activation = r.graph->nodes.front().activation;
    for (std::size_t i = 0; i + 1 < r.graph->nodes.size(); ++i) {
      if (!same_activation(r.graph->nodes[i].activation, *activation)) {
        throw Error(known_where + " uses " + activation_text(*activation) + " and " +
                    activation_text(r.graph->nodes[i].activation) + " in different layers; with " + name("layers") +
                    " or " + name("renames") + " every hidden layer has one " + name("activation") + ": leave them out");
      }
    }
    r.notes.push_back("activation " + activation_text(*activation) + " for every hidden layer, from " + known_where);
  }
  // The activation only matters when there is a hidden layer; ask for it
  // after the layers are known, so a one-layer model needs nothing.
  options.activation = activation.value_or(Activation{});
  r.model = model_from_checkpoint(reader, options);
  if (!activation && r.model.layers.size() > 1) {
    throw Error(reader.prefix() + " does not record its hidden layers' activation (no model description, no " +
                "TensorFlow graph " + meta_graph_path(reader.prefix()) + "): pass " + name("activation") +
                " (relu, elu, selu, leaky_relu:ALPHA, tanh, sigmoid)");
  }
  r.how = r.graph ? "as its TensorFlow graph " + meta_graph_path(reader.prefix()) + " defines it"
                  : "rebuilt from its variables";
  return r;
}

}  // namespace graft
