#include "host/train/saved_model_resume.h"

#include "checkpoint/error.h"
#include "host/restore/checked_read.h"

namespace graft {

std::map<std::string, std::string> adopt_saved_model_variables(ModelDescription& model) {
  std::map<std::string, std::string> keys, renamed;  // graft's name -> key; key -> graft's name
  for (ModelNode& n : model.nodes) {
    for (auto& [leaf, key] : n.variables) {
      const std::string own = n.name + "/" + leaf;
      keys[own] = key;
      renamed[key] = own;
      key = own;
    }
  }
  for (std::string& f : model.frozen) {
    if (const auto it = renamed.find(f); it != renamed.end()) f = it->second;
  }
  return keys;
}

std::size_t resume_saved_model_weights(Backend& backend, const BundleReader& reader,
                                       const std::vector<ParameterSpec>& table,
                                       const std::map<std::string, std::string>& keys) {
  for (const ParameterSpec& p : table) {
    const auto key = keys.find(p.name);
    const BundleEntry* entry = key == keys.end() ? nullptr : reader.find(key->second);
    if (!entry) throw Error(reader.prefix() + ": no variable for " + p.name + " to resume from");
    if (entry->info.shape != p.shape) {
      throw Error(reader.prefix() + ": " + key->second + " is " + shape_string(entry->info.shape) + ", " + p.name +
                  " is " + shape_string(p.shape));
    }
    backend.write_param(p.index, read_checked_float(reader, *entry).data());
  }
  return table.size();
}

}  // namespace graft
