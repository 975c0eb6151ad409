#include "host/restore/checkpoint_layers.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <optional>

#include "checkpoint/error.h"
#include "checkpoint/names.h"
#include "checkpoint/object_graph.h"
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
  std::map<std::string, CheckpointBatchNorm> batch_norms;  // by scope
  std::vector<std::string> others;
};

constexpr const char* kBatchNormLeaves[] = {"gamma", "beta", "moving_mean", "moving_variance"};

bool has_layer_leaf(const std::string& name) {
  if (ends_with(name, "/kernel") || ends_with(name, "/bias")) return true;
  return std::any_of(std::begin(kBatchNormLeaves), std::end(kBatchNormLeaves),
                     [&](const char* l) { return ends_with(name, std::string("/") + l); });
}

// A SavedModel keys its variables variables/K when TF reached them through
// the model's variables list first; its object graph still says which
// layer_with_weights-N holds each, the name save_weights would have used.
std::map<std::string, std::string> layer_paths(const BundleReader& reader) {
  try {
    const std::optional<ObjectGraphInfo> graph = read_object_graph(reader);
    return graph ? keras_layer_paths(*graph) : std::map<std::string, std::string>{};
  } catch (const Error&) {
    return {};  // a corrupt graph: the keys' own names only (inspect --verify says what is wrong)
  }
}

Scan scan(const BundleReader& reader, const std::vector<RenameRule>& renames) {
  Scan s;
  std::map<std::string, std::string> renamed_from;  // new name -> stored key
  const std::map<std::string, std::string> paths = layer_paths(reader);
  for (const BundleEntry& e : reader.entries()) {
    const NameInfo info = classify_name(e.info.name);
    if (info.role != VariableRole::kModel) continue;
    const auto path = paths.find(e.info.name);
    const std::string& variable =
        path != paths.end() && !has_layer_leaf(info.variable) ? path->second : info.variable;
    const std::string name = apply_renames(renames, variable);
    if (auto [it, fresh] = renamed_from.emplace(name, e.info.name); !fresh) {
      throw Error(reader.prefix() + ": " + it->second + " and " + e.info.name + " both become " + name +
                  " after renaming");
    }
    if (ends_with(name, "/kernel")) {
      s.layers[name.substr(0, name.size() - 7)].kernel_key = e.info.name;
    } else if (ends_with(name, "/bias")) {
      s.layers[name.substr(0, name.size() - 5)].bias_key = e.info.name;
    } else if (const auto leaf = std::find_if(std::begin(kBatchNormLeaves), std::end(kBatchNormLeaves),
                                              [&](const char* l) { return ends_with(name, std::string("/") + l); });
               leaf != std::end(kBatchNormLeaves)) {
      const std::string scope = name.substr(0, name.size() - std::strlen(*leaf) - 1);
      s.batch_norms[scope].scope = scope;
      s.batch_norms[scope].leaf_keys[*leaf] = e.info.name;
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

namespace {

// "batch_normalization" -> 0, "batch_normalization_3" -> 3 (tf.layers' default
// scopes, numbered in creation order); -1 for any other last component.
int default_batch_norm_number(const std::string& scope) {
  const std::string last = scope.substr(scope.rfind('/') == std::string::npos ? 0 : scope.rfind('/') + 1);
  const std::string base = "batch_normalization";
  if (last == base) return 0;
  if (last.rfind(base + "_", 0) != 0 || last.size() == base.size() + 1 || last.size() > base.size() + 7) return -1;
  const std::string digits = last.substr(base.size() + 1);
  if (!std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) return -1;
  return std::stoi(digits);
}

// Keras TF2: "layer_with_weights-4" -> 4 (the last scope component); -1 otherwise.
int keras_layer_number(const std::string& scope) {
  const std::string last = scope.substr(scope.rfind('/') == std::string::npos ? 0 : scope.rfind('/') + 1);
  const std::string base = "layer_with_weights-";
  if (last.rfind(base, 0) != 0 || last.size() == base.size() || last.size() > base.size() + 6) return -1;
  const std::string digits = last.substr(base.size());
  if (!std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) return -1;
  return std::stoi(digits);
}

}  // namespace

std::vector<CheckpointBatchNorm> find_batch_norms(const BundleReader& reader, const std::vector<RenameRule>& renames,
                                                  const std::vector<CheckpointDenseLayer>& dense) {
  Scan s = scan(reader, renames);
  std::vector<CheckpointBatchNorm> out, numbered;
  std::map<std::string, std::size_t> dense_at;
  for (std::size_t i = 0; i < dense.size(); ++i) dense_at[dense[i].name] = i;
  auto keys_of = [](const CheckpointBatchNorm& b) {
    std::vector<std::string> keys;
    for (const auto& [leaf, key] : b.leaf_keys) keys.push_back(key);
    return join(keys);
  };
  for (auto& [scope, b] : s.batch_norms) {
    for (const char* stat : {"moving_mean", "moving_variance"}) {
      if (!b.leaf_keys.count(stat)) {
        throw Error(reader.prefix() + ": " + keys_of(b) + " look like batch normalization but " + scope + "/" + stat +
                    " is missing");
      }
    }
    for (const auto& [leaf, key] : b.leaf_keys) {
      const Shape& shape = reader.find(key)->info.shape;
      if (shape.size() != 1 || (b.units > 0 && shape[0] != b.units)) {
        throw Error(reader.prefix() + ": batch normalization " + scope + " has " + key + " of shape " +
                    shape_string(shape) + " (expected one value per feature, like the other leaves)");
      }
      b.units = shape[0];
    }
    const std::size_t slash = scope.rfind('/');
    const std::string parent = slash == std::string::npos ? "" : scope.substr(0, slash);
    if (dense_at.count(parent)) {
      b.after = parent;
    } else if (const int k = keras_layer_number(scope); k >= 0) {
      int best = -1;
      for (const CheckpointDenseLayer& d : dense) {
        const int m = keras_layer_number(d.name);
        if (m >= 0 && m < k && m > best) {
          best = m;
          b.after = d.name;
        }
      }
    } else if (default_batch_norm_number(scope) >= 0) {
      numbered.push_back(b);
      continue;
    }
    if (b.after.empty()) {
      throw Error(reader.prefix() + ": batch normalization " + scope + " (" + keys_of(b) +
                  ") follows no dense layer that its name tells (graft reads NAME/batch_normalization, NAME/BatchNorm, "
                  "batch_normalization_N in creation order and Keras layer_with_weights-N); --rename its variables "
                  "to DENSE/batch_normalization/LEAF to say which layer it follows");
    }
    out.push_back(b);
  }
  if (!numbered.empty()) {
    std::stable_sort(numbered.begin(), numbered.end(), [](const auto& a, const auto& b) {
      return default_batch_norm_number(a.scope) < default_batch_norm_number(b.scope);
    });
    if (numbered.size() != dense.size() && numbered.size() + 1 != dense.size()) {
      std::vector<std::string> scopes;
      for (const auto& b : numbered) scopes.push_back(b.scope);
      throw Error(reader.prefix() + ": " + std::to_string(numbered.size()) + " batch normalizations (" + join(scopes) +
                  ") for " + std::to_string(dense.size()) +
                  " dense layers: which layer each follows is ambiguous from the names (graft attaches them in "
                  "creation order only when there is one per dense layer or one per hidden layer); --rename them "
                  "to DENSE/batch_normalization/LEAF");
    }
    for (std::size_t i = 0; i < numbered.size(); ++i) {
      numbered[i].after = dense[i].name;
      out.push_back(numbered[i]);
    }
  }
  std::map<std::string, std::string> taken;
  for (const CheckpointBatchNorm& b : out) {
    const CheckpointDenseLayer& d = dense[dense_at.at(b.after)];
    if (b.units != d.fan_out) {
      throw Error(reader.prefix() + ": batch normalization " + b.scope + " has " + std::to_string(b.units) +
                  " features but the dense layer it follows, " + d.name + ", has " + std::to_string(d.fan_out) +
                  " units");
    }
    if (auto [it, fresh] = taken.emplace(b.after, b.scope); !fresh) {
      throw Error(reader.prefix() + ": batch normalizations " + it->second + " and " + b.scope + " both follow " +
                  b.after + "; --rename them to say which layer each follows");
    }
  }
  std::sort(out.begin(), out.end(),
            [&](const auto& a, const auto& b) { return dense_at.at(a.after) < dense_at.at(b.after); });
  return out;
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
  const std::vector<CheckpointBatchNorm> norms = find_batch_norms(reader, options.renames, model.layers);
  std::map<std::string, const CheckpointBatchNorm*> norm_after;
  for (const CheckpointBatchNorm& b : norms) norm_after[b.after] = &b;
  const std::vector<CheckpointDenseLayer> dense = model.layers;
  model.layers.clear();
  for (std::size_t l = 0; l < dense.size(); ++l) {
    const CheckpointDenseLayer& c = dense[l];
    if (l > 0 && c.fan_in != dense[l - 1].fan_out) {
      throw Error(reader.prefix() + ": layer " + c.name + " takes " + std::to_string(c.fan_in) + " inputs (" +
                  c.kernel_key + " is [" + std::to_string(c.fan_in) + ", " + std::to_string(c.fan_out) + "]) but " +
                  dense[l - 1].name + " gives " + std::to_string(dense[l - 1].fan_out));
    }
    LayerSpec layer;
    layer.name = c.name;
    layer.fan_in = c.fan_in;
    layer.fan_out = c.fan_out;
    layer.activation = l + 1 == dense.size() ? Activation{ActivationKind::kIdentity} : options.activation;
    model.layers.push_back(c);
    const auto bn = norm_after.find(c.name);
    if (bn == norm_after.end()) {
      model.spec.layers.push_back(layer);
      continue;
    }
    // The variables say where batch norm is, not whether it comes before
    // the activation or after it, nor its epsilon: tf.layers' and Keras's
    // defaults, said as assumptions.
    const CheckpointBatchNorm& b = *bn->second;
    LayerSpec norm;
    norm.name = b.scope;
    norm.kind = NodeKind::kBatchNorm;
    norm.fan_in = norm.fan_out = b.units;
    norm.batch_norm.scale = b.leaf_keys.count("gamma") > 0;
    norm.batch_norm.center = b.leaf_keys.count("beta") > 0;
    norm.activation = layer.activation;
    layer.activation = Activation{ActivationKind::kIdentity};
    model.spec.layers.push_back(layer);
    model.spec.layers.push_back(norm);
    CheckpointDenseLayer n;
    n.name = b.scope;
    n.kind = NodeKind::kBatchNorm;
    n.fan_in = n.fan_out = b.units;
    n.leaf_keys = b.leaf_keys;
    model.layers.push_back(n);
    const bool logits = l + 1 == dense.size();
    model.assumptions.push_back("assumed: " + b.scope + " normalises " + c.name + "'s output" +
                                (logits ? " (the logits)" : " before its activation") +
                                ", with epsilon 0.001 (the variables do not record placement or epsilon; tf.layers' "
                                "default)" +
                                (norm.batch_norm.scale ? "" : "; no gamma stored: scale off") +
                                (norm.batch_norm.center ? "" : "; no beta stored: center off"));
  }
  model.spec.validate();
  return model;
}

CheckpointModel model_from_description(const BundleReader& reader, const ModelDescription& description) {
  description.validate();
  // A description read from a TensorFlow graph (host/restore/graph_import.h) is not recorded in the checkpoint.
  const std::string the_model =
      description.source.rfind("TensorFlow graph ", 0) == 0  ? "the graph's model"
      : description.source.rfind("Keras metadata ", 0) == 0 ? "the Keras metadata's model"
                                                             : "the recorded model";
  CheckpointModel model;
  for (std::size_t i = 0; i < description.nodes.size(); ++i) {
    const ModelNode& n = description.nodes[i];
    if (n.kind != NodeKind::kDense) {
      CheckpointDenseLayer c;
      c.name = n.name;
      c.kind = n.kind;
      c.fan_in = c.fan_out = n.units;
      for (const auto& [leaf, key] : n.variables) {
        const BundleEntry* e = reader.find(key);
        if (!e) throw Error(reader.prefix() + ": " + the_model + " needs " + key + ", which the checkpoint lacks");
        if (e->info.shape != Shape{n.units}) {
          throw Error(reader.prefix() + ": " + key + " is " + shape_string(e->info.shape) + " but " + the_model +
                      "'s " + n.name + " has " + std::to_string(n.units) + " features");
        }
        c.leaf_keys[leaf] = key;
      }
      LayerSpec layer;
      layer.name = n.name;
      layer.kind = n.kind;
      layer.fan_in = layer.fan_out = n.units;
      layer.activation = n.activation;
      layer.batch_norm = n.batch_norm;
      layer.rate = n.rate;
      model.layers.push_back(c);
      model.spec.layers.push_back(layer);
      continue;
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
  const ParameterLayout layout = parameter_layout(model.spec.backend_shapes());
  for (int i = 0; i < layout.size(); ++i) {
    const ParamSlot& p = layout[i];
    const CheckpointDenseLayer& c = model.layers[static_cast<std::size_t>(p.node)];
    const auto leaf = c.leaf_keys.find(param_role_name(p.role));
    const std::string key = p.role == ParamRole::kKernel ? c.kernel_key
                            : p.role == ParamRole::kBias ? c.bias_key
                            : leaf != c.leaf_keys.end()  ? leaf->second
                                                         : std::string();
    const BundleEntry* entry = key.empty() ? nullptr : reader.find(key);
    if (!entry) throw Error(reader.prefix() + ": layer " + c.name + " is not in this checkpoint");
    // A NaN or Inf anywhere (moving statistics included) is refused, naming the tensor.
    backend.write_param(i, read_checked_float(reader, *entry).data());
  }
}

}  // namespace graft
