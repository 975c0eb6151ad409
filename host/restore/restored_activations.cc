#include "host/restore/restored_activations.h"

#include <map>

namespace graft {

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
  std::vector<ActivationMismatch> out;
  for (std::size_t l = 0; l < spec.layers.size(); ++l) {
    const LayerSpec& layer = spec.layers[l];
    const auto restored = source_of.find(layer.name + "/kernel");
    if (restored == source_of.end()) continue;
    const auto node = node_of_kernel.find(restored->second);
    if (node == node_of_kernel.end()) continue;
    const bool model_output = l + 1 == spec.layers.size();
    const bool source_output = node->second + 1 == source.nodes.size();
    if (model_output != source_output) continue;  // a hidden layer reused as a head, or the reverse: not comparable
    const Activation& a = source.nodes[node->second].activation;
    const Activation& b = layer.activation;
    if (a.kind != b.kind || (a.kind == ActivationKind::kLeakyRelu && a.alpha != b.alpha)) {
      out.push_back({layer.name, source.nodes[node->second].name, b, a});
    }
  }
  return out;
}

}  // namespace graft
