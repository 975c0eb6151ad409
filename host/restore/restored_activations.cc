#include "host/restore/restored_activations.h"

#include <map>
#include <utility>

namespace graft {
namespace {

// What a dense layer's block applies after x·W + b: its own activation, or
// the one a batch_norm (or dropout) node after it carries (batch norm
// before the activation); whether it is the last dense layer.
template <typename Nodes, typename Kind, typename Act>
std::pair<Activation, bool> effective_activation(const Nodes& nodes, std::size_t dense, Kind kind, Act act) {
  Activation a = act(nodes[dense]);
  std::size_t j = dense + 1;
  for (; j < nodes.size() && kind(nodes[j]) != NodeKind::kDense; ++j) {
    if (a.kind == ActivationKind::kIdentity) a = act(nodes[j]);
  }
  return {a, j >= nodes.size()};
}

}  // namespace

std::vector<ActivationMismatch> restored_activation_mismatches(const ModelSpec& spec, const RestorePlan& plan,
                                                               const ModelDescription& source) {
  std::map<std::string, std::string> source_of;  // model variable -> checkpoint key
  for (const PlannedVariable& v : plan.variables) {
    if (v.source == VariableSource::kRestored) source_of[v.name] = v.checkpoint_key;
  }
  std::map<std::string, std::size_t> node_of_kernel;  // checkpoint kernel -> source node
  for (std::size_t n = 0; n < source.nodes.size(); ++n) {
    const auto it = source.nodes[n].variables.find("kernel");
    if (it != source.nodes[n].variables.end()) node_of_kernel[it->second] = n;
  }
  const auto spec_kind = [](const LayerSpec& l) { return l.kind; };
  const auto spec_act = [](const LayerSpec& l) { return l.activation; };
  const auto node_kind = [](const ModelNode& n) { return n.kind; };
  const auto node_act = [](const ModelNode& n) { return n.activation; };
  std::vector<ActivationMismatch> out;
  for (std::size_t l = 0; l < spec.layers.size(); ++l) {
    const LayerSpec& layer = spec.layers[l];
    if (layer.kind != NodeKind::kDense) continue;
    const auto restored = source_of.find(layer.name + "/kernel");
    if (restored == source_of.end()) continue;
    const auto node = node_of_kernel.find(restored->second);
    if (node == node_of_kernel.end()) continue;
    const auto [b, model_output] = effective_activation(spec.layers, l, spec_kind, spec_act);
    const auto [a, source_output] = effective_activation(source.nodes, node->second, node_kind, node_act);
    if (model_output != source_output) continue;  // a hidden layer reused as a head, or the reverse: not comparable
    if (a.kind != b.kind || (a.kind == ActivationKind::kLeakyRelu && a.alpha != b.alpha)) {
      out.push_back({layer.name, source.nodes[node->second].name, b, a});
    }
  }
  return out;
}

}  // namespace graft
