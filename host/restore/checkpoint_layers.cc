#include "host/restore/checkpoint_layers.h"

#include <algorithm>
#include <map>

#include "checkpoint/error.h"
#include "checkpoint/names.h"
#include "checkpoint/summary.h"
#include "host/restore/checked_read.h"

namespace graft {
namespace {

bool is_output_scope(const std::string& name) {
  const std::size_t slash = name.rfind('/');
  const std::string last = slash == std::string::npos ? name : name.substr(slash + 1);
  return last == "outputs" || last == "output" || last == "logits";
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string join(const std::vector<std::string>& items, std::size_t limit = 8) {
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < limit; ++i) out += (i ? ", " : "") + items[i];
  if (items.size() > limit) out += ", ... (" + std::to_string(items.size()) + " in all)";
  return out;
}

// Kernel and bias keys per scope, plus model variables that fit no layer.
struct Scan {
  std::map<std::string, CheckpointDenseLayer> layers;
  std::vector<std::string> others;
};

Scan scan(const BundleReader& reader, const std::vector<RenameRule>& renames) {
  Scan s;
  std::map<std::string, std::string> renamed_from;  // new name -> stored key
  for (const BundleEntry& e : reader.entries()) {
    const NameInfo info = classify_name(e.info.name);
    if (info.role != VariableRole::kModel) continue;
    const std::string name = apply_renames(renames, info.variable);
    if (auto [it, fresh] = renamed_from.emplace(name, e.info.name); !fresh) {
      throw Error(reader.prefix() + ": " + it->second + " and " + e.info.name + " both become " + name +
                  " after renaming");
    }
    if (ends_with(name, "/kernel")) {
      s.layers[name.substr(0, name.size() - 7)].kernel_key = e.info.name;
    } else if (ends_with(name, "/bias")) {
      s.layers[name.substr(0, name.size() - 5)].bias_key = e.info.name;
    } else {
      s.others.push_back(e.info.name);
    }
  }
  return s;
}

// Validates one layer's shapes and fills in its fans.
void complete(const BundleReader& reader, const std::string& name, CheckpointDenseLayer& layer) {
  layer.name = name;
  if (layer.kernel_key.empty()) {
    throw Error(reader.prefix() + ": " + layer.bias_key + " has no matching kernel (" + name +
                "/kernel); rename rules (--rename REGEX=REPLACEMENT) can map other names");
  }
  if (layer.bias_key.empty()) {
    throw Error(reader.prefix() + ": " + layer.kernel_key + " has no matching bias (" + name + "/bias)");
  }
  const Shape& k = reader.find(layer.kernel_key)->info.shape;
  const Shape& b = reader.find(layer.bias_key)->info.shape;
  if (k.size() != 2) {
    throw Error(reader.prefix() + ": " + layer.kernel_key + " has shape " + shape_string(k) +
                "; a dense layer's kernel is [fan_in, fan_out]");
  }
  if (b.size() != 1 || b[0] != k[1]) {
    throw Error(reader.prefix() + ": " + layer.bias_key + " has shape " + shape_string(b) + " but " +
                layer.kernel_key + " is " + shape_string(k));
  }
  layer.fan_in = k[0];
  layer.fan_out = k[1];
}

}  // namespace

std::vector<CheckpointDenseLayer> find_dense_layers(const BundleReader& reader,
                                                    const std::vector<RenameRule>& renames) {
  Scan s = scan(reader, renames);
  std::vector<CheckpointDenseLayer> layers;
  for (auto& [name, layer] : s.layers) {
    complete(reader, name, layer);
    layers.push_back(layer);
  }
  std::stable_sort(layers.begin(), layers.end(), [](const auto& x, const auto& y) {
    const bool xo = is_output_scope(x.name), yo = is_output_scope(y.name);
    if (xo != yo) return yo;
    return natural_less(x.name, y.name);
  });
  return layers;
}

// Model variables outside every dense layer, with what they look like
// ("batch normalization", "4-D kernel (not dense)"), for the error below.
std::string describe_others(const BundleReader& reader, const std::vector<std::string>& others) {
  std::map<std::string, std::string> kind;
  for (const OtherVariable& o : summarize(reader).other) kind[o.name] = o.kind;
  std::vector<std::string> items;
  for (const std::string& name : others) {
    const auto it = kind.find(name);
    items.push_back(it == kind.end() ? name : name + " (" + it->second + ")");
  }
  return join(items);
}

CheckpointModel model_from_checkpoint(const BundleReader& reader, const CheckpointModelOptions& options) {
  CheckpointModel model;
  {
    // Leaving such variables out would evaluate a different network (a
    // batch-norm network without its normalisation): refused, never dropped,
    // also when the layers are chosen by name.
    const Scan s = scan(reader, options.renames);
    if (!s.others.empty()) {
      throw Error(reader.prefix() + ": variables that belong to no dense layer: " + describe_others(reader, s.others) +
                  "; the network needs them, so they cannot be left out (rename misspelt dense variables to "
                  "NAME/kernel and NAME/bias)");
    }
  }
  if (options.layers.empty()) {
    const Scan s = scan(reader, options.renames);
    model.layers = find_dense_layers(reader, options.renames);
    if (model.layers.empty()) throw Error(reader.prefix() + ": no dense layers (NAME/kernel + NAME/bias)");
  } else {
    Scan s = scan(reader, options.renames);
    for (const std::string& name : options.layers) {
      if (std::count(options.layers.begin(), options.layers.end(), name) > 1) {
        throw Error("layer " + name + " is listed twice");
      }
      auto it = s.layers.find(name);
      if (it == s.layers.end()) {
        std::vector<std::string> have;
        for (const auto& [n, _] : s.layers) have.push_back(n);
        throw Error(reader.prefix() + ": no layer " + name + " (layers: " + join(have, 20) + ")");
      }
      complete(reader, name, it->second);
      model.layers.push_back(it->second);
    }
  }
  for (std::size_t l = 0; l < model.layers.size(); ++l) {
    const CheckpointDenseLayer& c = model.layers[l];
    if (l > 0 && c.fan_in != model.layers[l - 1].fan_out) {
      throw Error(reader.prefix() + ": layer " + c.name + " takes " + std::to_string(c.fan_in) + " inputs (" +
                  c.kernel_key + " is [" + std::to_string(c.fan_in) + ", " + std::to_string(c.fan_out) + "]) but " +
                  model.layers[l - 1].name + " gives " + std::to_string(model.layers[l - 1].fan_out));
    }
    LayerSpec layer;
    layer.name = c.name;
    layer.fan_in = c.fan_in;
    layer.fan_out = c.fan_out;
    layer.activation = l + 1 == model.layers.size() ? Activation{ActivationKind::kIdentity} : options.activation;
    model.spec.layers.push_back(layer);
  }
  model.spec.validate();
  return model;
}

CheckpointModel model_from_description(const BundleReader& reader, const ModelDescription& description) {
  description.validate();
  // A description read from a TensorFlow graph (host/restore/graph_import.h) is not recorded in the checkpoint.
  const std::string the_model =
      description.source.rfind("TensorFlow graph ", 0) == 0 ? "the graph's model" : "the recorded model";
  CheckpointModel model;
  for (std::size_t i = 0; i < description.nodes.size(); ++i) {
    const ModelNode& n = description.nodes[i];
    if (n.kind != NodeKind::kDense) {
      throw Error(reader.prefix() + ": " + the_model + "'s node " + n.name + " is a " + node_kind_name(n.kind) +
                  " node, which the backends cannot run yet");
    }
    CheckpointDenseLayer c;
    c.kernel_key = n.variables.at("kernel");
    c.bias_key = n.variables.at("bias");
    for (const std::string* key : {&c.kernel_key, &c.bias_key}) {
      if (!reader.find(*key)) {
        throw Error(reader.prefix() + ": " + the_model + " needs " + *key + ", which the checkpoint lacks");
      }
    }
    complete(reader, n.name, c);
    if (c.fan_in != description.node_inputs(i) || c.fan_out != n.units) {
      throw Error(reader.prefix() + ": " + c.kernel_key + " is [" + std::to_string(c.fan_in) + ", " +
                  std::to_string(c.fan_out) + "] but " + the_model + "'s " + n.name + " is [" +
                  std::to_string(description.node_inputs(i)) + ", " + std::to_string(n.units) + "]");
    }
    LayerSpec layer;
    layer.name = n.name;
    layer.fan_in = c.fan_in;
    layer.fan_out = c.fan_out;
    layer.activation = n.activation;
    model.layers.push_back(c);
    model.spec.layers.push_back(layer);
  }
  model.spec.validate();
  return model;
}

void load_checkpoint_weights(Backend& backend, const BundleReader& reader, const CheckpointModel& model) {
  for (std::size_t l = 0; l < model.layers.size(); ++l) {
    const CheckpointDenseLayer& c = model.layers[l];
    const BundleEntry* kernel = reader.find(c.kernel_key);
    const BundleEntry* bias = reader.find(c.bias_key);
    if (!kernel || !bias) throw Error(reader.prefix() + ": layer " + c.name + " is not in this checkpoint");
    backend.write_param(static_cast<int>(2 * l), read_checked_float(reader, *kernel).data());
    backend.write_param(static_cast<int>(2 * l + 1), read_checked_float(reader, *bias).data());
  }
}

}  // namespace graft
