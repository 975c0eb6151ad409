#include "host/model/model_io.h"

#include <set>

#include "checkpoint/error.h"
#include "checkpoint/names.h"

namespace graft {

std::optional<ModelDescription> read_model_description(const BundleReader& reader) {
  const BundleEntry* entry = reader.find(kModelDescriptionKey);
  if (!entry) return std::nullopt;
  const std::string origin = reader.prefix() + " (" + kModelDescriptionKey + ")";
  if (entry->info.dtype != DType::kString || !entry->info.shape.empty()) {
    throw Error(origin + ": expected a scalar string tensor, found " + dtype_name(entry->info.dtype) + " " +
                shape_string(entry->info.shape));
  }
  const std::vector<std::string> values = reader.read_strings(*entry);
  return model_from_json(values.at(0), origin);
}

ModelSpec spec_from_model(const ModelDescription& model) {
  model.validate();
  const std::set<std::string> frozen(model.frozen.begin(), model.frozen.end());
  ModelSpec spec;
  for (std::size_t i = 0; i < model.nodes.size(); ++i) {
    const ModelNode& n = model.nodes[i];
    if (n.kind != NodeKind::kDense) {
      throw Error(std::string("model: node ") + n.name + " is a " + node_kind_name(n.kind) +
                  " node, which the backends cannot run yet");
    }
    LayerSpec layer;
    layer.name = n.name;
    layer.fan_in = model.node_inputs(i);
    layer.fan_out = n.units;
    layer.activation = n.activation;
    if (n.variables.at("kernel") != kernel_name(layer) || n.variables.at("bias") != bias_name(layer)) {
      throw Error("model: node " + n.name + " keeps its variables as " + n.variables.at("kernel") + " and " +
                  n.variables.at("bias") + ", not " + kernel_name(layer) + " and " + bias_name(layer));
    }
    layer.kernel_trainable = frozen.count(kernel_name(layer)) == 0;
    layer.bias_trainable = frozen.count(bias_name(layer)) == 0;
    spec.layers.push_back(layer);
  }
  spec.validate();
  return spec;
}

ModelDescription model_from_spec(const ModelSpec& spec, const std::optional<OptimizerConfig>& optimizer,
                                 const std::vector<int>& labels, const std::string& source) {
  spec.validate();
  ModelDescription m;
  m.source = source;
  m.input.features = spec.inputs();
  for (const LayerSpec& layer : spec.layers) {
    ModelNode n;
    n.kind = NodeKind::kDense;
    n.name = layer.name;
    n.units = layer.fan_out;
    n.activation = layer.activation;
    n.variables = {{"kernel", kernel_name(layer)}, {"bias", bias_name(layer)}};
    if (!layer.kernel_trainable) m.frozen.push_back(kernel_name(layer));
    if (!layer.bias_trainable) m.frozen.push_back(bias_name(layer));
    m.nodes.push_back(std::move(n));
  }
  m.output.classes = spec.outputs();
  if (labels.empty()) {
    for (int64_t i = 0; i < spec.outputs(); ++i) m.output.labels.push_back(static_cast<int>(i));
  } else {
    m.output.labels = labels;
  }
  m.optimizer = optimizer;
  m.validate();
  return m;
}

std::optional<ModelDescription> renamed_model(const ModelDescription& model,
                                              const std::map<std::string, std::string>& new_names) {
  ModelDescription out = model;
  auto map_name = [&](std::string& name) {
    const auto it = new_names.find(name);
    if (it == new_names.end()) return false;
    name = it->second;
    return true;
  };
  for (ModelNode& n : out.nodes) {
    for (auto& [leaf, variable] : n.variables) {
      if (!map_name(variable)) return std::nullopt;
    }
  }
  for (std::string& f : out.frozen) {
    if (!map_name(f)) return std::nullopt;
  }
  // A node whose variables moved to another scope takes that scope's name
  // (NAME/kernel -> NEW/kernel makes the node NEW).
  for (ModelNode& n : out.nodes) {
    const std::string& kernel = n.variables.at("kernel");
    const std::size_t slash = kernel.rfind('/');
    if (slash != std::string::npos && kernel.substr(slash) == "/kernel") n.name = kernel.substr(0, slash);
  }
  out.validate();
  return out;
}

}  // namespace graft
