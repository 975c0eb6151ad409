#include "host/model/model_spec.h"

#include "host/model/layer_activations.h"

#include <set>

#include "checkpoint/error.h"

namespace graft {

int64_t ModelSpec::inputs() const { return layers.empty() ? 0 : layers.front().fan_in; }
int64_t ModelSpec::outputs() const { return layers.empty() ? 0 : layers.back().fan_out; }

void ModelSpec::validate() const {
  if (layers.empty()) throw Error("model: no layers");
  std::set<std::string> names;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const LayerSpec& layer = layers[l];
    if (layer.name.empty()) throw Error("model: layer " + std::to_string(l) + " has no name");
    if (!names.insert(layer.name).second) throw Error("model: two layers are named '" + layer.name + "'");
    if (layer.kind != NodeKind::kDense && layer.fan_in != layer.fan_out) {
      throw Error("model: " + std::string(node_kind_name(layer.kind)) + " node " + layer.name + " has shape [" +
                  std::to_string(layer.fan_in) + ", " + std::to_string(layer.fan_out) + "] (it keeps the width)");
    }
    if (layer.fan_in <= 0 || layer.fan_out <= 0) {
      throw Error("model: layer " + layer.name + " has shape [" + std::to_string(layer.fan_in) + ", " +
                  std::to_string(layer.fan_out) + "]");
    }
    if (l > 0 && layer.fan_in != layers[l - 1].fan_out) {
      throw Error("model: layer " + layer.name + " takes " + std::to_string(layer.fan_in) + " inputs but " +
                  layers[l - 1].name + " gives " + std::to_string(layers[l - 1].fan_out) + " outputs");
    }
  }
}

std::vector<DenseLayerShape> ModelSpec::backend_shapes() const {
  std::vector<DenseLayerShape> shapes;
  for (const LayerSpec& layer : layers) shapes.push_back(layer.shape());
  return shapes;
}

DenseLayerShape LayerSpec::shape() const {
  DenseLayerShape s{fan_in, fan_out, activation};
  s.kind = kind;
  s.batch_norm = batch_norm;
  s.rate = rate;
  return s;
}

bool LayerSpec::leaf_trainable(ParamRole role) const {
  switch (role) {
    case ParamRole::kKernel: return kernel_trainable;
    case ParamRole::kBias: return bias_trainable;
    case ParamRole::kGamma: return gamma_trainable;
    case ParamRole::kBeta: return beta_trainable;
    case ParamRole::kMovingMean:
    case ParamRole::kMovingVariance: return statistics_trainable;
  }
  return true;
}

void LayerSpec::set_leaf_trainable(ParamRole role, bool trainable) {
  switch (role) {
    case ParamRole::kKernel: kernel_trainable = trainable; return;
    case ParamRole::kBias: bias_trainable = trainable; return;
    case ParamRole::kGamma: gamma_trainable = trainable; return;
    case ParamRole::kBeta: beta_trainable = trainable; return;
    case ParamRole::kMovingMean:
    case ParamRole::kMovingVariance: statistics_trainable = trainable; return;
  }
}

std::string ModelSpec::describe() const {
  std::string text = std::to_string(inputs());
  int dense = 0;
  bool batch_norm = false, dropout = false;
  std::size_t last_dense = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    if (layers[i].kind == NodeKind::kDense) last_dense = i;
  }
  // Each hidden dense layer's activation: its own, or its batch norm's when
  // the normalisation comes before the activation (the dense layer is linear).
  std::vector<Activation> hidden;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const LayerSpec& layer = layers[i];
    if (layer.kind == NodeKind::kDense) {
      text += "-" + std::to_string(layer.fan_out);
      ++dense;
      if (i < last_dense) hidden.push_back(layer.activation);
    } else if (layer.kind == NodeKind::kBatchNorm && i < last_dense && !hidden.empty() &&
               hidden.back().kind == ActivationKind::kIdentity) {
      hidden.back() = layer.activation;
    }
    batch_norm = batch_norm || layer.kind == NodeKind::kBatchNorm;
    dropout = dropout || layer.kind == NodeKind::kDropout;
  }
  if (dense > 1) {
    const std::string each = layer_activations_text(hidden);  // one name when they agree
    text += " (" + (each.find(',') == std::string::npos ? activation_name(hidden.front()) : each) + ")";
  }
  if (batch_norm) text += " + batch norm";
  if (dropout) text += " + dropout";
  return text;
}

void add_batch_norm(ModelSpec& spec, bool before_activation, const BatchNormAttrs& attrs) {
  std::vector<LayerSpec> out;
  for (std::size_t i = 0; i < spec.layers.size(); ++i) {
    LayerSpec layer = spec.layers[i];
    const bool hidden = i + 1 < spec.layers.size() && layer.kind == NodeKind::kDense;
    LayerSpec bn;
    if (hidden) {
      bn.name = layer.name + "/batch_normalization";
      bn.kind = NodeKind::kBatchNorm;
      bn.fan_in = bn.fan_out = layer.fan_out;
      bn.batch_norm = attrs;
      bn.activation = Activation{ActivationKind::kIdentity};
      if (before_activation) std::swap(bn.activation, layer.activation);
    }
    out.push_back(layer);
    if (hidden) out.push_back(bn);
  }
  spec.layers = out;
  spec.validate();
}

void add_dropout(ModelSpec& spec, const std::vector<float>& rates) {
  std::vector<std::size_t> hidden;  // the last node of each hidden layer (its batch norm, if any)
  for (std::size_t i = 0; i + 1 < spec.layers.size(); ++i) {
    if (spec.layers[i].kind != NodeKind::kDense) continue;
    std::size_t last = i;
    while (last + 1 < spec.layers.size() && spec.layers[last + 1].kind == NodeKind::kBatchNorm) ++last;
    if (last + 1 < spec.layers.size()) hidden.push_back(last);
  }
  if (rates.size() != 1 && rates.size() != hidden.size()) {
    throw Error("model: " + std::to_string(rates.size()) + " dropout rates for " + std::to_string(hidden.size()) +
                " hidden layers (give one rate, or one per hidden layer)");
  }
  for (float r : rates) {
    if (!(r >= 0.0f && r < 1.0f)) throw Error("model: dropout rate " + std::to_string(r) + " is not in [0, 1)");
  }
  std::vector<LayerSpec> out;
  std::size_t h = 0;
  for (std::size_t i = 0; i < spec.layers.size(); ++i) {
    out.push_back(spec.layers[i]);
    if (h < hidden.size() && hidden[h] == i) {
      const float rate = rates.size() == 1 ? rates[0] : rates[h];
      ++h;
      if (rate == 0.0f) continue;
      LayerSpec d;
      std::string base = spec.layers[i].name;
      if (spec.layers[i].kind == NodeKind::kBatchNorm) base = base.substr(0, base.rfind('/'));
      d.name = base + "/dropout";
      d.kind = NodeKind::kDropout;
      d.fan_in = d.fan_out = spec.layers[i].fan_out;
      d.activation = Activation{ActivationKind::kIdentity};
      d.rate = rate;
      out.push_back(d);
    }
  }
  spec.layers = out;
  spec.validate();
}

ModelSpec make_mlp_spec(int64_t inputs, const std::vector<int64_t>& hidden, int64_t outputs,
                        const Activation& activation, Initializer kernel_initializer) {
  ModelSpec spec;
  int64_t fan_in = inputs;
  for (std::size_t i = 0; i < hidden.size(); ++i) {
    LayerSpec layer;
    layer.name = "hidden" + std::to_string(i + 1);
    layer.fan_in = fan_in;
    layer.fan_out = hidden[i];
    layer.activation = activation;
    layer.kernel_initializer = kernel_initializer;
    spec.layers.push_back(layer);
    fan_in = hidden[i];
  }
  LayerSpec out;
  out.name = "outputs";
  out.fan_in = fan_in;
  out.fan_out = outputs;
  out.activation.kind = ActivationKind::kIdentity;
  out.kernel_initializer = kernel_initializer;
  spec.layers.push_back(out);
  spec.validate();
  return spec;
}

std::string kernel_name(const LayerSpec& layer) { return layer.name + "/kernel"; }
std::string bias_name(const LayerSpec& layer) { return layer.name + "/bias"; }
std::string leaf_name(const LayerSpec& layer, ParamRole role) { return layer.name + "/" + param_role_name(role); }

int64_t ParameterSpec::elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // shapes come from validated layer fans
  return n;
}

std::vector<ParameterSpec> parameter_table(const ModelSpec& spec, OptimizerKind optimizer) {
  const std::vector<std::string> suffixes = optimizer_slot_suffixes(optimizer);
  const ParameterLayout layout = parameter_layout(spec.backend_shapes());
  std::vector<ParameterSpec> table;
  for (int i = 0; i < layout.size(); ++i) {
    const ParamSlot& slot = layout[i];
    const LayerSpec& layer = spec.layers[static_cast<std::size_t>(slot.node)];
    ParameterSpec p;
    const bool kernel = slot.role == ParamRole::kKernel;
    p.name = leaf_name(layer, slot.role);
    p.shape = kernel ? Shape{layer.fan_in, layer.fan_out} : Shape{layer.fan_out};
    p.layer = slot.node;
    p.role = slot.role;
    p.index = i;
    p.offset = slot.offset;
    p.trainable = layer.leaf_trainable(slot.role);
    p.optimized = role_optimized(slot.role);
    switch (slot.role) {
      case ParamRole::kKernel: p.initializer = layer.kernel_initializer; break;
      case ParamRole::kBias: p.initializer = layer.bias_initializer; break;
      // tf.layers.batch_normalization's defaults.
      case ParamRole::kGamma:
      case ParamRole::kMovingVariance: p.initializer = Initializer::kOnes; break;
      case ParamRole::kBeta:
      case ParamRole::kMovingMean: p.initializer = Initializer::kZeros; break;
    }
    p.variance_scaling = layer.variance_scaling;
    p.fan_in = layer.fan_in;
    p.fan_out = layer.fan_out;
    if (p.trainable && p.optimized) {
      for (const std::string& suffix : suffixes) p.slot_names.push_back(p.name + "/" + suffix);
    }
    table.push_back(std::move(p));
  }
  return table;
}

const ParameterSpec* find_parameter(const std::vector<ParameterSpec>& table, const std::string& name) {
  for (const ParameterSpec& p : table) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

}  // namespace graft
