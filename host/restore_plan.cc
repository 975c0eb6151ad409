#include "host/restore_plan.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "checkpoint/error.h"
#include "checkpoint/names.h"
#include "host/initializers.h"
#include "host/model_checkpoint.h"
#include "host/name_suggestions.h"
#include "host/rename_rules.h"

namespace graft {
namespace {

constexpr const char* kTf2Suffix = "/.ATTRIBUTES/VARIABLE_VALUE";

std::string strip_tf2_suffix(std::string name) {
  const std::string suffix = kTf2Suffix;
  if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    name.resize(name.size() - suffix.size());
  }
  return name;
}

// The slot index of a checkpoint slot name for the new optimizer: TF1 names
// ("Adam_1") by position in optimizer_slot_suffixes, Keras names ("m", "v",
// "momentum", "rms", "accumulator") by meaning. -1 when the optimizer has no
// such slot.
int slot_index(OptimizerKind kind, const std::string& slot) {
  const auto suffixes = optimizer_slot_suffixes(kind);
  for (std::size_t i = 0; i < suffixes.size(); ++i) {
    if (suffixes[i] == slot) return static_cast<int>(i);
  }
  switch (kind) {
    case OptimizerKind::kAdam: return slot == "m" ? 0 : slot == "v" ? 1 : -1;
    case OptimizerKind::kMomentum:
    case OptimizerKind::kNesterov: return slot == "momentum" ? 0 : -1;
    case OptimizerKind::kRmsProp: return slot == "rms" ? 0 : slot == "momentum" ? 1 : -1;
    case OptimizerKind::kAdagrad: return slot == "accumulator" ? 0 : -1;
    case OptimizerKind::kSgd: return -1;
  }
  return -1;
}

// The optimizer a table was built for, recovered from its slot names.
OptimizerKind table_optimizer(const std::vector<ParameterSpec>& table) {
  for (const auto& p : table) {
    if (p.slot_names.empty()) continue;
    const std::string& s = p.slot_names.front();
    const std::string suffix = s.substr(s.rfind('/') + 1);
    for (OptimizerKind k : {OptimizerKind::kMomentum, OptimizerKind::kAdagrad, OptimizerKind::kRmsProp,
                            OptimizerKind::kAdam}) {
      const auto names = optimizer_slot_suffixes(k);
      if (!names.empty() && names.front() == suffix) return k;
    }
  }
  return OptimizerKind::kSgd;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// A checkpoint model variable under its model name.
struct Candidate {
  std::string key;         // as stored
  std::string model_name;  // after renames
  const BundleEntry* entry = nullptr;
};

std::string missing_help(const std::string& model_name, const std::vector<std::string>& checkpoint_names) {
  const auto close = closest_names(model_name, checkpoint_names);
  if (close.empty()) return "the checkpoint has no model variables";
  return "closest checkpoint names: " + join(close) + "; a rename such as --rename '" +
         suggest_rename(close.front(), model_name) + "' would map " + close.front() + " to " + model_name;
}

}  // namespace

bool matches_name_or_scope(const std::regex& pattern, const std::string& name) {
  if (std::regex_match(name, pattern)) return true;
  for (std::size_t pos = name.find('/'); pos != std::string::npos; pos = name.find('/', pos + 1)) {
    if (std::regex_match(name.begin(), name.begin() + static_cast<std::ptrdiff_t>(pos), pattern)) return true;
  }
  return false;
}

std::vector<std::regex> compile_name_regexes(const std::vector<std::string>& texts, const std::string& flag) {
  std::vector<std::regex> out;
  for (const auto& t : texts) {
    try {
      out.emplace_back(t, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      throw Error(flag + " '" + t + "': not a valid regular expression (" + e.what() + ")");
    }
  }
  return out;
}

int RestorePlan::restored_count() const {
  return static_cast<int>(std::count_if(variables.begin(), variables.end(),
                                        [](const PlannedVariable& v) { return v.source == VariableSource::kRestored; }));
}

std::string RestorePlan::table() const {
  std::ostringstream out;
  std::size_t width = 8;
  for (const auto& v : variables) width = std::max(width, v.name.size());
  out << "model variable" << std::string(width > 14 ? width - 14 + 2 : 2, ' ') << "shape        source\n";
  for (const auto& v : variables) {
    std::string source;
    switch (v.source) {
      case VariableSource::kRestored: source = "restored from " + v.checkpoint_key; break;
      case VariableSource::kInitialised: source = "initialised (" + v.initializer + ")"; break;
      case VariableSource::kSkippedMismatch:
        source = "initialised (" + v.initializer + "): skipped " + v.checkpoint_key + ", shape " +
                 shape_string(v.checkpoint_shape) + " != " + shape_string(v.shape);
        break;
    }
    if (!v.slots.empty()) source += " + " + std::to_string(v.slots.size()) + " optimizer slot(s)";
    if (!v.trainable) source += " [frozen]";
    const std::string shape = shape_string(v.shape);
    out << v.name << std::string(width - v.name.size() + 2, ' ') << shape
        << std::string(shape.size() < 13 ? 13 - shape.size() : 1, ' ') << source << "\n";
  }
  if (!unused.empty()) {
    out << "checkpoint variables not used:\n";
    for (const auto& u : unused) out << "  " << u.key << ": " << u.reason << "\n";
  }
  out << restored_count() << " of " << variables.size() << " model variables restored from " << checkpoint_prefix
      << "\n";
  return out.str();
}

RestorePlan plan_restore(const std::vector<ParameterSpec>& table, const BundleReader& reader,
                         const RestoreOptions& options) {
  RestorePlan plan;
  plan.checkpoint_prefix = reader.prefix();
  const auto regexes = compile_name_regexes(options.restore, "--restore");

  // Checkpoint model variables under their model names.
  std::vector<Candidate> candidates;
  std::map<std::string, std::size_t> by_model_name;
  std::vector<std::string> candidate_names;
  for (const auto& e : reader.entries()) {
    if (classify_name(e.info.name).role != VariableRole::kModel) continue;
    Candidate c{e.info.name, strip_tf2_suffix(apply_renames(options.renames, e.info.name)), &e};
    if (auto it = by_model_name.find(c.model_name); it != by_model_name.end()) {
      throw Error(reader.prefix() + ": checkpoint variables " + candidates[it->second].key + " and " + c.key +
                  " both map to " + c.model_name + " (check the --rename rules)");
    }
    by_model_name[c.model_name] = candidates.size();
    candidate_names.push_back(c.model_name);
    candidates.push_back(std::move(c));
  }

  // Each --restore regex must select something in the checkpoint.
  for (std::size_t r = 0; r < regexes.size(); ++r) {
    const bool any = std::any_of(candidates.begin(), candidates.end(),
                                 [&](const Candidate& c) { return matches_name_or_scope(regexes[r], c.model_name); });
    if (any) continue;
    std::string help;
    const auto model_hit = std::find_if(table.begin(), table.end(),
                                        [&](const ParameterSpec& p) { return matches_name_or_scope(regexes[r], p.name); });
    if (model_hit != table.end()) {
      help = missing_help(model_hit->name, candidate_names);
    } else {
      help = "closest checkpoint names: " + join(closest_names(options.restore[r], candidate_names));
    }
    throw Error("--restore '" + options.restore[r] + "' matches no variable of " + reader.prefix() + "; " + help);
  }

  const OptimizerKind optimizer = table_optimizer(table);
  std::set<std::string> used_keys;
  for (const auto& p : table) {
    PlannedVariable v;
    v.name = p.name;
    v.shape = p.shape;
    v.initializer = initializer_name(p.initializer);
    v.trainable = p.trainable;
    const bool selected =
        regexes.empty() || std::any_of(regexes.begin(), regexes.end(),
                                       [&](const std::regex& re) { return matches_name_or_scope(re, p.name); });
    const auto found = by_model_name.find(p.name);
    if (selected && found == by_model_name.end() && !regexes.empty()) {
      throw Error("--restore selects model variable " + p.name + ", but " + reader.prefix() + " has no such variable; " +
                  missing_help(p.name, candidate_names));
    }
    if (selected && found != by_model_name.end()) {
      const Candidate& c = candidates[found->second];
      const BundleEntry& e = *c.entry;
      if (!dtype_converts_to_float(e.info.dtype)) {
        throw Error(reader.prefix() + ": " + c.key + " has dtype " + dtype_name(e.info.dtype) +
                    ", which cannot be converted to float32 for " + p.name);
      }
      v.checkpoint_key = c.key;
      v.checkpoint_shape = e.info.shape;
      if (e.info.shape != p.shape) {
        if (!options.skip_mismatch) {
          throw Error(reader.prefix() + ": " + c.key + " has shape " + shape_string(e.info.shape) + " but model variable " +
                      p.name + " has shape " + shape_string(p.shape) + " (use --skip-mismatch to keep its initial value)");
        }
        v.source = VariableSource::kSkippedMismatch;
      } else {
        v.source = VariableSource::kRestored;
        used_keys.insert(c.key);
      }
    }
    plan.variables.push_back(std::move(v));
  }

  // Slots of restored, trainable variables (opt-in).
  if (options.restore_slots) {
    std::map<std::string, PlannedVariable*> by_stripped_key;
    for (auto& v : plan.variables) {
      if (v.source == VariableSource::kRestored && v.trainable) {
        by_stripped_key[classify_name(v.checkpoint_key).variable] = &v;
      }
    }
    for (const auto& e : reader.entries()) {
      const NameInfo info = classify_name(e.info.name);
      if (info.role != VariableRole::kOptimizerSlot) continue;
      const auto it = by_stripped_key.find(info.variable);
      if (it == by_stripped_key.end()) continue;
      const int index = slot_index(optimizer, info.slot);
      if (index < 0) continue;
      if (e.info.shape != it->second->shape) {
        throw Error(reader.prefix() + ": optimizer slot " + e.info.name + " has shape " + shape_string(e.info.shape) +
                    ", its variable " + it->second->name + " has shape " + shape_string(it->second->shape));
      }
      it->second->slots.push_back({index, e.info.name});
      used_keys.insert(e.info.name);
    }
  }

  // Why each remaining checkpoint variable is left alone.
  for (const auto& e : reader.entries()) {
    if (used_keys.count(e.info.name)) continue;
    const NameInfo info = classify_name(e.info.name);
    std::string reason;
    switch (info.role) {
      case VariableRole::kOptimizerSlot:
        reason = options.restore_slots ? "optimizer slot (its variable is not restored, or " + optimizer_name(optimizer) +
                                             " has no such slot)"
                                       : "optimizer slot (use --restore-slots to restore slots)";
        break;
      case VariableRole::kOptimizerScalar: reason = "optimizer state"; break;
      case VariableRole::kGlobalStep: reason = "global step"; break;
      case VariableRole::kObjectGraph: reason = "object graph"; break;
      case VariableRole::kModel: {
        const std::string model_name = strip_tf2_suffix(apply_renames(options.renames, e.info.name));
        const auto p = std::find_if(table.begin(), table.end(), [&](const ParameterSpec& q) { return q.name == model_name; });
        if (p == table.end()) {
          reason = "no such model variable" + (model_name != e.info.name ? " (" + model_name + ")" : std::string());
        } else if (std::find_if(plan.variables.begin(), plan.variables.end(), [&](const PlannedVariable& v) {
                     return v.name == model_name && v.source == VariableSource::kSkippedMismatch;
                   }) != plan.variables.end()) {
          reason = "shape mismatch, skipped (--skip-mismatch)";
        } else {
          reason = "not selected by --restore";
        }
        break;
      }
    }
    plan.unused.push_back({e.info.name, reason});
  }
  return plan;
}

void apply_restore_plan(Backend& backend, const BundleReader& reader, const std::vector<ParameterSpec>& table,
                        const RestorePlan& plan) {
  for (const auto& v : plan.variables) {
    if (v.source != VariableSource::kRestored) continue;
    const ParameterSpec* p = find_parameter(table, v.name);
    if (!p) throw Error("restore plan names " + v.name + ", which the model does not have");
    backend.write_param(p->index, read_tensor(reader, v.checkpoint_key, p->shape).data());
    for (const auto& s : v.slots) {
      backend.write_slot(p->index, s.slot, read_tensor(reader, s.checkpoint_key, p->shape).data());
    }
  }
}

}  // namespace graft
