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
    LayerSpec layer;
    layer.name = n.name;
    layer.kind = n.kind;
    layer.fan_in = model.node_inputs(i);
    layer.fan_out = n.units;
    layer.activation = n.activation;
    layer.batch_norm = n.batch_norm;
    layer.rate = n.rate;
    const std::vector<ParamRole> roles = node_roles(layer.shape());
    for (ParamRole role : roles) {
      const std::string want = leaf_name(layer, role);
      const std::string& have = n.variables.at(param_role_name(role));
      if (have != want) {
        std::string wants, haves;
        for (ParamRole r : roles) {
          wants += (wants.empty() ? "" : " and ") + leaf_name(layer, r);
          haves += (haves.empty() ? "" : " and ") + n.variables.at(param_role_name(r));
        }
        throw Error("model: node " + n.name + " keeps its variables as " + haves + ", not " + wants);
      }
    }
    for (ParamRole role : roles) layer.set_leaf_trainable(role, frozen.count(leaf_name(layer, role)) == 0);
    if (n.kind == NodeKind::kBatchNorm) {
      // Frozen statistics: the moving mean decides (the variance follows it).
      layer.statistics_trainable = frozen.count(leaf_name(layer, ParamRole::kMovingMean)) == 0;
    }
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
    n.kind = layer.kind;
    n.name = layer.name;
    n.units = layer.fan_out;
    n.activation = layer.activation;
    n.batch_norm = layer.batch_norm;
    n.rate = layer.rate;
    for (ParamRole role : node_roles(layer.shape())) {
      n.variables[param_role_name(role)] = leaf_name(layer, role);
      if (!layer.leaf_trainable(role)) m.frozen.push_back(leaf_name(layer, role));
    }
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
    if (n.variables.empty()) continue;  // dropout: no variables to follow
    const auto kernel = n.variables.find("kernel");
    const auto& [leaf, variable] = kernel != n.variables.end() ? *kernel : *n.variables.begin();
    const std::size_t slash = variable.rfind('/');
    if (slash != std::string::npos && variable.substr(slash + 1) == leaf) n.name = variable.substr(0, slash);
  }
  out.validate();
  return out;
}

}  // namespace graft
