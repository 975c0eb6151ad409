#include "host/restore/transfer.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "checkpoint/error.h"
#include "host/restore/name_suggestions.h"

namespace graft {

void set_layer_names(ModelSpec& spec, const std::vector<std::string>& names) {
  if (names.size() != spec.layers.size()) {
    throw Error("--layer-names gives " + std::to_string(names.size()) + " names for a model of " +
                std::to_string(spec.layers.size()) + " layers (" + std::to_string(spec.layers.size() - 1) +
                " hidden + the output layer)");
  }
  std::set<std::string> seen;
  for (const std::string& name : names) {
    const bool valid = !name.empty() && name.front() != '/' && name.back() != '/' &&
                       name.find("//") == std::string::npos &&
                       std::all_of(name.begin(), name.end(), [](char c) {
                         return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
                                c == '/';
                       });
    if (!valid) throw Error("--layer-names: '" + name + "' is not a valid variable scope (letters, digits, _ - . /)");
    if (!seen.insert(name).second) throw Error("--layer-names: '" + name + "' is given twice");
  }
  for (std::size_t i = 0; i < names.size(); ++i) spec.layers[i].name = names[i];
}

std::vector<std::string> freeze_variables(ModelSpec& spec, const std::vector<std::string>& regexes,
                                          const FreezeOptions& options) {
  const auto compiled = compile_name_regexes(regexes, "--freeze");
  std::vector<std::string> all;
  for (const LayerSpec& l : spec.layers) {
    for (ParamRole role : node_roles(l.shape())) all.push_back(leaf_name(l, role));
  }
  std::vector<bool> used(compiled.size(), false);
  std::vector<std::string> frozen;
  for (LayerSpec& l : spec.layers) {
    for (ParamRole role : node_roles(l.shape())) {
      const std::string name = leaf_name(l, role);
      bool hit = false;
      for (std::size_t r = 0; r < compiled.size(); ++r) {
        if (matches_name_or_scope(compiled[r], name)) hit = used[r] = true;
      }
      if (!hit) continue;
      // TF1's behaviour: a frozen batch norm's statistics keep updating.
      if (!role_optimized(role) && options.frozen_batch_norm_updates_statistics) {
        l.batch_norm.frozen_updates_statistics = true;
        continue;
      }
      l.set_leaf_trainable(role, false);
      frozen.push_back(name);
    }
  }
  for (std::size_t r = 0; r < compiled.size(); ++r) {
    if (!used[r]) {
      throw Error("--freeze '" + regexes[r] +
                  "' selects no model variable (it matches whole names or scopes); closest: " + [&] {
                    std::string out;
                    for (const auto& n : closest_names(regexes[r], all)) out += (out.empty() ? "" : ", ") + n;
                    return out;
                  }());
    }
  }
  return frozen;
}

RestorePlan restore_into(Trainer& trainer, const BundleReader& reader, const RestoreOptions& options) {
  RestorePlan plan = plan_restore(trainer.table(), reader, options);
  apply_restore_plan(trainer.backend(), reader, trainer.table(), plan);
  return plan;
}

}  // namespace graft
