#include "checkpoint/summary.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/names.h"
#include "checkpoint/object_graph.h"

namespace graft {
namespace {

struct Split {
  std::string layer;  // everything before the last '/'
  std::string leaf;   // the last component
};

Split split_last(const std::string& name) {
  const auto slash = name.rfind('/');
  if (slash == std::string::npos) return {"", name};
  return {name.substr(0, slash), name.substr(slash + 1)};
}

bool is_output_layer(const std::string& layer) {
  static const std::set<std::string> kNames{"outputs", "output", "logits", "logit", "predictions"};
  return kNames.count(split_last(layer).leaf) > 0;
}

bool is_batch_norm_leaf(const std::string& leaf) {
  return leaf == "beta" || leaf == "gamma" || leaf == "moving_mean" || leaf == "moving_variance";
}

// A model variable waiting to be paired: its stripped name and its entry.
struct Candidate {
  std::string variable;
  const BundleEntry* entry;
};

// `kernel`: the entry named "kernel" in the same scope, if any.
std::string other_kind(const std::string& leaf, const BundleEntry& e, const BundleEntry* kernel) {
  if (is_batch_norm_leaf(leaf)) return "batch normalization";
  if (leaf == "kernel" && e.info.shape.size() != 2) {
    return std::to_string(e.info.shape.size()) + "-D kernel (not a dense layer)";
  }
  if (leaf == "bias" && kernel && kernel->info.shape.size() != 2) {
    return "bias of a " + std::to_string(kernel->info.shape.size()) + "-D kernel";
  }
  if (leaf == "kernel" || leaf == "bias") return "unpaired " + leaf;
  return "not part of a dense layer";
}

}  // namespace

bool natural_less(const std::string& a, const std::string& b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const bool da = std::isdigit(static_cast<unsigned char>(a[i]));
    const bool db = std::isdigit(static_cast<unsigned char>(b[j]));
    if (da && db) {
      std::size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      // Compare digit runs as numbers: strip leading zeros, then length, then text.
      std::string na = a.substr(i, ie - i), nb = b.substr(j, je - j);
      na.erase(0, std::min(na.find_first_not_of('0'), na.size()));
      nb.erase(0, std::min(nb.find_first_not_of('0'), nb.size()));
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
      ++i;
      ++j;
    }
  }
  return (a.size() - i) < (b.size() - j);
}

CheckpointSummary summarize(const BundleReader& reader) {
  CheckpointSummary s;
  const auto graph = read_object_graph(reader);
  s.format = graph ? "TF2 object-based" : "TF1 name-based";

  std::map<std::string, std::map<std::string, Candidate>> by_layer;  // layer -> leaf -> var
  std::set<std::string> slots;
  // A SavedModel's variables/K keys by their Keras layer path (layer_with_weights-N/kernel).
  const std::map<std::string, std::string> layer_paths =
      graph ? keras_layer_paths(*graph) : std::map<std::string, std::string>{};
  for (const auto& e : reader.entries()) {
    NameInfo n = classify_name(e.info.name);
    if (const auto path = layer_paths.find(e.info.name);
        path != layer_paths.end() && n.role == VariableRole::kModel && n.variable.rfind("variables/", 0) == 0) {
      n.variable = path->second;
    }
    int64_t elements = 1;
    for (int64_t d : e.info.shape) elements *= d;  // validated by the reader
    switch (n.role) {
      case VariableRole::kModel: {
        s.model_parameters += e.sliced ? 0 : elements;
        const Split sp = split_last(n.variable);
        by_layer[sp.layer][sp.leaf] = Candidate{n.variable, &e};
        break;
      }
      // Partitioned variables are not counted: their shapes are not bounded
      // by the data file, so sums of them could overflow.
      case VariableRole::kOptimizerSlot:
        s.optimizer_elements += e.sliced ? 0 : elements;
        slots.insert(n.slot);
        break;
      case VariableRole::kOptimizerScalar:
        s.optimizer_elements += e.sliced ? 0 : elements;
        s.optimizer_scalars.push_back(e.info.name);
        break;
      case VariableRole::kGlobalStep:
        s.step_counters.push_back(e.info.name);
        break;
      case VariableRole::kObjectGraph:
      case VariableRole::kModelDescription:
        break;
    }
  }
  s.optimizer_slots.assign(slots.begin(), slots.end());
  std::sort(s.optimizer_slots.begin(), s.optimizer_slots.end(), natural_less);

  for (auto& [layer, leaves] : by_layer) {
    auto k = leaves.find("kernel");
    auto b = leaves.find("bias");
    if (!layer.empty() && k != leaves.end() && b != leaves.end()) {
      const auto& ks = k->second.entry->info.shape;
      const auto& bs = b->second.entry->info.shape;
      if (ks.size() == 2 && bs.size() == 1 && bs[0] == ks[1] &&
          dtype_converts_to_float(k->second.entry->info.dtype) &&
          dtype_converts_to_float(b->second.entry->info.dtype)) {
        DenseLayerSummary d;
        d.name = layer;
        d.kernel = k->second.entry->info.name;
        d.bias = b->second.entry->info.name;
        d.inputs = ks[0];
        d.outputs = ks[1];
        if (graph) {
          auto full = graph->full_names.find(d.kernel);
          if (full != graph->full_names.end()) d.keras_name = split_last(full->second).layer;
        }
        s.dense_layers.push_back(std::move(d));
        leaves.erase(k);
        leaves.erase(b);
      }
    }
    const auto kernel = leaves.find("kernel");
    const BundleEntry* kernel_entry = kernel == leaves.end() ? nullptr : kernel->second.entry;
    for (const auto& [leaf, c] : leaves) {
      s.other.push_back({c.entry->info.name, other_kind(leaf, *c.entry, kernel_entry)});
    }
  }

  std::sort(s.dense_layers.begin(), s.dense_layers.end(),
            [](const DenseLayerSummary& a, const DenseLayerSummary& b) {
              const bool oa = is_output_layer(a.name), ob = is_output_layer(b.name);
              if (oa != ob) return ob;
              return natural_less(a.name, b.name);
            });
  std::sort(s.other.begin(), s.other.end(),
            [](const OtherVariable& a, const OtherVariable& b) { return natural_less(a.name, b.name); });

  bool chained = !s.dense_layers.empty();
  for (std::size_t i = 1; i < s.dense_layers.size(); ++i) {
    chained = chained && s.dense_layers[i - 1].outputs == s.dense_layers[i].inputs;
  }
  if (chained) {
    s.architecture = std::to_string(s.dense_layers.front().inputs);
    for (const auto& d : s.dense_layers) s.architecture += "-" + std::to_string(d.outputs);
  }
  return s;
}

}  // namespace graft
