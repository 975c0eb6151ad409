#include "host/restore/restore_aliases.h"

#include <initializer_list>
#include <optional>

#include "checkpoint/error.h"
#include "checkpoint/object_graph.h"
#include "host/restore/checkpoint_layers.h"
#include "host/restore/rename_rules.h"

namespace graft::restore_aliases {

void add_batch_norm_aliases(const std::vector<ParameterSpec>& table, const BundleReader& reader,
                            const RestoreOptions& options, std::vector<Candidate>& candidates,
                            std::map<std::string, std::size_t>& by_model_name) {
  bool any = false;
  for (const ParameterSpec& p : table) any = any || p.role == ParamRole::kMovingMean;
  if (!any) return;
  std::vector<CheckpointBatchNorm> norms;
  try {
    norms = find_batch_norms(reader, options.renames, find_dense_layers(reader, options.renames));
  } catch (const Error&) {
    return;
  }
  std::map<std::string, const CheckpointBatchNorm*> after;
  for (const CheckpointBatchNorm& b : norms) after[b.after] = &b;
  std::map<std::string, std::size_t> by_key;
  for (std::size_t i = 0; i < candidates.size(); ++i) by_key[candidates[i].key] = i;
  for (const ParameterSpec& p : table) {
    if (p.role != ParamRole::kGamma && p.role != ParamRole::kBeta && p.role != ParamRole::kMovingMean &&
        p.role != ParamRole::kMovingVariance) {
      continue;
    }
    if (by_model_name.count(p.name)) continue;  // the checkpoint has it under the model's name
    // The dense layer this batch norm follows: the last kernel below its node.
    std::string dense;
    for (const ParameterSpec& q : table) {
      if (q.role == ParamRole::kKernel && q.layer < p.layer) dense = q.name.substr(0, q.name.rfind('/'));
    }
    const auto b = after.find(dense);
    if (b == after.end()) continue;
    const auto leaf = b->second->leaf_keys.find(param_role_name(p.role));
    if (leaf == b->second->leaf_keys.end()) continue;
    const auto c = by_key.find(leaf->second);
    if (c != by_key.end()) by_model_name[p.name] = c->second;
  }
}

void add_keras_name_aliases(const BundleReader& reader, const RestoreOptions& options,
                            const std::vector<Candidate>& candidates, std::map<std::string, std::size_t>& by_model_name) {
  std::optional<ObjectGraphInfo> graph;
  try {
    graph = read_object_graph(reader);
  } catch (const Error&) {
    return;  // a corrupt graph: the keys' own names only (inspect --verify says what is wrong)
  }
  if (!graph) return;
  // A SavedModel's variables/K keys are also known by their Keras layer
  // path (layer_with_weights-N/kernel), as in save_weights checkpoints.
  const std::map<std::string, std::string> layer_paths = keras_layer_paths(*graph);
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    using Names = std::map<std::string, std::string>;
    for (const Names* names : std::initializer_list<const Names*>{&graph->full_names, &layer_paths}) {
      const auto full = names->find(candidates[i].key);
      if (full == names->end()) continue;
      const std::string alias = apply_renames(options.renames, full->second);
      if (alias != candidates[i].model_name && !by_model_name.count(alias)) by_model_name[alias] = i;
    }
  }
}

}  // namespace graft::restore_aliases
