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
  for (const LayerSpec& layer : layers) shapes.push_back({layer.fan_in, layer.fan_out, layer.activation});
  return shapes;
}

std::string ModelSpec::describe() const {
  std::string text = std::to_string(inputs());
  for (const LayerSpec& layer : layers) text += "-" + std::to_string(layer.fan_out);
  if (layers.size() > 1) {
    std::vector<Activation> hidden;
    for (std::size_t l = 0; l + 1 < layers.size(); ++l) hidden.push_back(layers[l].activation);
    const std::string each = layer_activations_text(hidden);  // one name when they agree
    text += " (" + (each.find(',') == std::string::npos ? activation_name(layers.front().activation) : each) + ")";
  }
  return text;
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
    p.name = kernel ? kernel_name(layer) : bias_name(layer);
    p.shape = kernel ? Shape{layer.fan_in, layer.fan_out} : Shape{layer.fan_out};
    p.layer = slot.node;
    p.role = slot.role;
    p.index = i;
    p.offset = slot.offset;
    p.trainable = kernel ? layer.kernel_trainable : layer.bias_trainable;
    p.initializer = kernel ? layer.kernel_initializer : layer.bias_initializer;
    p.variance_scaling = layer.variance_scaling;
    p.fan_in = layer.fan_in;
    p.fan_out = layer.fan_out;
    if (p.trainable) {
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
