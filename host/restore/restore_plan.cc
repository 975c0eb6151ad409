#include "host/restore/restore_plan.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "checkpoint/error.h"
#include "checkpoint/names.h"
#include "checkpoint/object_graph.h"
#include "checkpoint/summary.h"
#include "host/model/initializers.h"
#include "host/train/model_checkpoint.h"
#include "host/restore/checkpoint_layers.h"
#include "host/restore/name_suggestions.h"
#include "host/restore/rename_rules.h"
#include "host/restore/restore_aliases.h"
#include "host/restore/slot_set_choice.h"

namespace graft {
namespace {

using restore_aliases::Candidate;
using restore_aliases::add_batch_norm_aliases;
using restore_aliases::add_keras_name_aliases;

constexpr const char* kTf2Suffix = "/.ATTRIBUTES/VARIABLE_VALUE";

std::string strip_tf2_suffix(std::string name) {
  const std::string suffix = kTf2Suffix;
  if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    name.resize(name.size() - suffix.size());
  }
  return name;
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

bool has_tf2_suffix(const std::string& key) { return strip_tf2_suffix(key) != key; }


// "dnn/hidden1/kernal", or "a/b (renamed to c/d)" when a rule renamed it.
std::string describe_candidate(const Candidate& c) {
  const std::string stored = strip_tf2_suffix(c.key);
  return c.model_name == stored ? c.key : c.key + " (renamed to " + c.model_name + ")";
}

// The closest checkpoint variables to model variable `target` (those of
// its shape first: positional names such as Keras's layer_with_weights-N
// say little), and the --rename rule that would map the closest one onto it.
std::string missing_help(const std::string& target, const Shape& shape, const std::vector<Candidate>& candidates) {
  if (candidates.empty()) return "the checkpoint has no model variables";
  std::vector<std::string> same_shape, other_shape;
  for (const auto& c : candidates) (c.entry->info.shape == shape ? same_shape : other_shape).push_back(c.model_name);
  std::vector<std::string> close = closest_names(target, same_shape);
  if (close.size() < 3) {
    for (const auto& n : closest_names(target, other_shape, 3 - close.size())) close.push_back(n);
  }
  std::vector<std::string> shown;
  const Candidate* best = nullptr;
  for (const auto& name : close) {
    const auto it = std::find_if(candidates.begin(), candidates.end(),
                                 [&](const Candidate& c) { return c.model_name == name; });
    if (!best) best = &*it;
    shown.push_back(describe_candidate(*it) + " " + shape_string(it->entry->info.shape));
  }
  std::string text = "closest checkpoint names: " + join(shown);
  if (same_shape.empty()) {
    return text + "; none has " + target + "'s shape " + shape_string(shape) +
           " (graft restores dense layers: kernels [in, out] and biases [out])";
  }
  // Rules apply to the stored key; a TF2 key keeps its suffix on both sides.
  const std::string suffix = has_tf2_suffix(best->key) ? std::string(kTf2Suffix) : std::string();
  return text + "; a rule such as --rename '" + suggest_rename(best->key, target + suffix) + "' would map " +
         best->key + " to " + target + " (rules apply to checkpoint names in order; the first that matches wins)";
}

// "batch normalization", "4-D kernel, not a dense layer", ... for checkpoint
// model variables that cannot belong to a dense layer; "" otherwise.
std::map<std::string, std::string> non_dense_kinds(const BundleReader& reader) {
  std::map<std::string, std::string> out;
  for (const auto& o : summarize(reader).other) {
    if (o.kind == "batch normalization" || o.kind.find("-D kernel") != std::string::npos) {
      std::string kind = o.kind;
      const auto paren = kind.find(" (not a dense layer)");
      if (paren != std::string::npos) kind = kind.substr(0, paren) + ", not a dense layer";
      out[o.name] = kind;
    }
  }
  return out;
}

// A model variable that keeps its initial value (what the plan starts from).
PlannedVariable initialised_variable(const ParameterSpec& p) {
  PlannedVariable v;
  v.name = p.name;
  v.shape = p.shape;
  v.initializer = initializer_name(p.initializer);
  v.trainable = p.trainable;
  return v;
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
  std::size_t width = 14;  // "model variable"
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
    if (!v.slot_set.empty()) source += " of " + v.slot_set;
    if (!v.trainable) source += " [frozen]";
    const std::string shape = shape_string(v.shape);
    out << v.name << std::string(width - v.name.size() + 2, ' ') << shape
        << std::string(shape.size() < 13 ? 13 - shape.size() : 1, ' ') << source << "\n";
  }
  if (!slot_sets.empty()) out << "optimizer slots: " << slot_sets << "\n";
  if (!unused.empty()) {
    out << "checkpoint variables not used:\n";
    for (const auto& u : unused) out << "  " << u.key << ": " << u.reason << "\n";
  }
  if (checkpoint_prefix.empty()) {
    out << "no checkpoint (--init-from): every model variable starts from its initializer\n";
  } else {
    out << restored_count() << " of " << variables.size() << " model variables restored from " << checkpoint_prefix
        << "\n";
  }
  return out.str();
}

RestorePlan plan_restore(const std::vector<ParameterSpec>& table, const BundleReader& reader,
                         const RestoreOptions& options) {
  RestorePlan plan;
  plan.checkpoint_prefix = reader.prefix();
  const auto regexes = compile_name_regexes(options.restore, "--restore");
  const auto selects = [&](const std::regex& re, const std::string& name) { return matches_name_or_scope(re, name); };
  const auto in_table = [&](const std::string& name) { return find_parameter(table, name) != nullptr; };

  // Checkpoint model variables under their model names.
  std::vector<Candidate> candidates;
  std::map<std::string, std::size_t> by_model_name;
  for (const auto& e : reader.entries()) {
    if (classify_name(e.info.name).role != VariableRole::kModel) continue;
    Candidate c{e.info.name, strip_tf2_suffix(apply_renames(options.renames, e.info.name)), &e};
    if (auto it = by_model_name.find(c.model_name); it != by_model_name.end()) {
      // Only an error when it matters: two sources for one model variable.
      if (in_table(c.model_name)) {
        throw Error(reader.prefix() + ": checkpoint variables " + candidates[it->second].key + " and " + c.key +
                    " both map to model variable " + c.model_name + " (check the --rename rules)");
      }
      continue;
    }
    by_model_name[c.model_name] = candidates.size();
    candidates.push_back(std::move(c));
  }
  add_keras_name_aliases(reader, options, candidates, by_model_name);
  const auto non_dense = non_dense_kinds(reader);
  add_batch_norm_aliases(table, reader, options, candidates, by_model_name);

  // Each --restore regex must select at least one model variable.
  std::vector<std::string> model_names;
  for (const auto& p : table) model_names.push_back(p.name);
  for (std::size_t r = 0; r < regexes.size(); ++r) {
    if (std::any_of(table.begin(), table.end(), [&](const ParameterSpec& p) { return selects(regexes[r], p.name); })) {
      continue;
    }
    const std::string head = "--restore '" + options.restore[r] + "' selects no variable of the model (it matches whole model variable names or scopes, after --rename)";
    // Did the user write a checkpoint name? Then say how to map it.
    std::vector<std::string> hits;
    const Candidate* first_hit = nullptr;
    for (const auto& c : candidates) {
      if (selects(regexes[r], c.model_name) || selects(regexes[r], strip_tf2_suffix(c.key))) {
        if (!first_hit) first_hit = &c;
        if (hits.size() < 3) hits.push_back(c.key);
      }
    }
    if (first_hit) {
      std::string text = head + "; it matches checkpoint variables " + join(hits) + "...";
      if (hits.size() < 3) text.resize(text.size() - 3);
      if (const auto kind = non_dense.find(first_hit->key); kind != non_dense.end()) {
        throw Error(text + ", but " + first_hit->key + " is a " + kind->second +
                    ": graft's models are stacks of dense layers, so it cannot be restored");
      }
      const auto close = closest_names(first_hit->model_name, model_names, 1);
      const std::string suffix = has_tf2_suffix(first_hit->key) ? std::string(kTf2Suffix) : std::string();
      throw Error(text + "; model variables are named like " + join(closest_names(first_hit->model_name, model_names)) +
                  ": a rule such as --rename '" + suggest_rename(first_hit->key, close.front() + suffix) +
                  "' maps checkpoint names onto them, and --restore then selects the model names");
    }
    throw Error(head + " or of " + reader.prefix() + "; closest model variables: " +
                join(closest_names(options.restore[r], model_names)) +
                "; closest checkpoint variables: " + [&] {
                  std::vector<std::string> keys;
                  for (const auto& c : candidates) keys.push_back(c.model_name);
                  return join(closest_names(options.restore[r], keys));
                }());
  }

  const OptimizerKind optimizer = table_optimizer(table);
  std::set<std::string> used_keys;
  std::vector<std::string> missing;  // selected by a regex, absent from the checkpoint
  int mismatches = 0;
  for (const auto& p : table) {
    PlannedVariable v = initialised_variable(p);
    const bool selected =
        regexes.empty() ||
        std::any_of(regexes.begin(), regexes.end(), [&](const std::regex& re) { return selects(re, p.name); });
    const auto found = by_model_name.find(p.name);
    if (selected && found == by_model_name.end() && !regexes.empty()) missing.push_back(p.name);
    if (selected && found != by_model_name.end()) {
      const Candidate& c = candidates[found->second];
      const BundleEntry& e = *c.entry;
      if (!dtype_converts_to_float(e.info.dtype)) {
        throw Error(reader.prefix() + ": " + c.key + " has dtype " + dtype_name(e.info.dtype) +
                    ", which cannot be converted to float32 for model variable " + p.name);
      }
      if (e.sliced) {
        throw Error(reader.prefix() + ": " + c.key + " is a partitioned variable, which graft cannot restore");
      }
      v.checkpoint_key = c.key;
      v.checkpoint_shape = e.info.shape;
      if (e.info.shape != p.shape) {
        if (!options.skip_mismatch) {
          std::string what;
          if (const auto kind = non_dense.find(c.key); kind != non_dense.end()) what = " (a " + kind->second + ")";
          throw Error(reader.prefix() + ": " + c.key + " has shape " + shape_string(e.info.shape) + what +
                      " but model variable " + p.name + " has shape " + shape_string(p.shape) +
                      " (--skip-mismatch keeps the model variable's initial value instead)");
        }
        v.source = VariableSource::kSkippedMismatch;
        ++mismatches;
      } else {
        v.source = VariableSource::kRestored;
        used_keys.insert(c.key);
      }
    }
    plan.variables.push_back(std::move(v));
  }
  if (!missing.empty()) {
    std::string others;
    if (missing.size() > 1) {
      others = " (also " + join(std::vector<std::string>(missing.begin() + 1, missing.end())) + ")";
    }
    throw Error("--restore selects model variable " + missing.front() + others + ", but " + reader.prefix() +
                " has no such variable; " +
                missing_help(missing.front(), find_parameter(table, missing.front())->shape, candidates));
  }
  if (plan.restored_count() == 0 && mismatches == 0) {
    // Without --restore: nothing in common. Restoring nothing is never what
    // someone who passed a checkpoint meant.
    throw Error("no variable of the model is in " + reader.prefix() + "; " +
                missing_help(plan.variables.front().name, plan.variables.front().shape, candidates));
  }

  // Slots of restored, trainable variables (opt-in).
  std::map<std::string, PlannedVariable*> restored_by_key;  // checkpoint variable -> plan entry
  for (auto& v : plan.variables) {
    if (v.source == VariableSource::kRestored) restored_by_key[classify_name(v.checkpoint_key).variable] = &v;
  }
  SlotSetQuery slot_query;  // the usable slot sets (host/restore/slot_set_choice.h)
  SlotSetChoice slot_choice;
  if (!options.slot_set.empty() && !options.restore_slots) {
    throw Error("RestoreOptions::slot_set '" + options.slot_set + "' chooses which optimizer's slots restore_slots "
                "restores, and restore_slots is off");
  }
  if (options.restore_slots) {
    check_slot_set_name(find_slot_sets(reader), optimizer, options.slot_set, "RestoreOptions::slot_set",
                        reader.prefix());
    std::vector<std::string> slotted;  // checkpoint variables whose slots are wanted
    for (const auto& v : plan.variables) {
      if (v.source == VariableSource::kRestored && v.trainable) slotted.push_back(classify_name(v.checkpoint_key).variable);
    }
    slot_query = slot_set_query(reader, optimizer, slotted, options.slot_set, false);
    slot_choice = choose_slot_sets(slot_query);
    if (slot_choice.several()) plan.slot_sets = slot_choice.describe();
    for (const auto& e : reader.entries()) {
      const NameInfo info = classify_name(e.info.name);
      if (info.role != VariableRole::kOptimizerSlot) continue;
      const auto it = restored_by_key.find(info.variable);
      if (it == restored_by_key.end() || !it->second->trainable) continue;
      const FoundSlot found = find_slot(slot_query.sets, e.info.name);
      if (!found.set) continue;  // another optimizer's kind
      const auto chosen = slot_choice.variable_set.find(info.variable);
      if (chosen == slot_choice.variable_set.end() || chosen->second != found.set->name) continue;
      const int index = slot_position(optimizer, *found.slot);
      if (index < 0) continue;
      PlannedVariable& v = *it->second;
      if (!dtype_converts_to_float(e.info.dtype)) {
        throw Error(reader.prefix() + ": optimizer slot " + e.info.name + " has dtype " + dtype_name(e.info.dtype) +
                    ", which cannot be converted to float32");
      }
      if (e.info.shape != v.shape) {
        throw Error(reader.prefix() + ": optimizer slot " + e.info.name + " has shape " + shape_string(e.info.shape) +
                    ", its variable " + v.name + " has shape " + shape_string(v.shape));
      }
      // Two keys of one set for one slot of ours cannot happen by name; keep the first.
      if (std::any_of(v.slots.begin(), v.slots.end(), [&](const SlotRestore& s) { return s.slot == index; })) continue;
      v.slots.push_back({index, e.info.name});
      if (slot_choice.several()) v.slot_set = found.set->name;
      used_keys.insert(e.info.name);
    }
  }

  // Why each remaining checkpoint variable is left alone.
  for (const auto& e : reader.entries()) {
    if (used_keys.count(e.info.name)) continue;
    const NameInfo info = classify_name(e.info.name);
    std::string reason;
    switch (info.role) {
      case VariableRole::kOptimizerSlot: {
        const auto it = restored_by_key.find(info.variable);
        if (!options.restore_slots) {
          reason = "optimizer slot (a transfer run starts a fresh optimizer; --restore-slots restores slots)";
        } else if (it == restored_by_key.end()) {
          reason = "optimizer slot of a variable that is not restored";
        } else if (!it->second->trainable) {
          reason = "optimizer slot of a frozen variable (frozen variables have no slots)";
        } else if (const FoundSlot found = find_slot(slot_query.sets, e.info.name); found.set) {
          // A slot this optimizer has, of another set than the variable's.
          reason = other_optimizer_slot(found.set->name, "restores");
        } else {
          reason = "optimizer slot that " + optimizer_name(optimizer) + " does not have";
        }
        break;
      }
      case VariableRole::kOptimizerScalar:
        reason = "optimizer state (a transfer run starts a fresh optimizer at step 0; --resume continues a run)";
        break;
      case VariableRole::kGlobalStep: reason = "step counter (a transfer run starts at step 0)"; break;
      case VariableRole::kObjectGraph: reason = "object graph (TF2 metadata)"; break;
      case VariableRole::kModelDescription: reason = "graft's model description of the source model"; break;
      case VariableRole::kModel: {
        const std::string model_name = strip_tf2_suffix(apply_renames(options.renames, e.info.name));
        const std::string renamed =
            model_name != strip_tf2_suffix(e.info.name) ? " (renamed to " + model_name + ")" : std::string();
        const auto p = std::find_if(plan.variables.begin(), plan.variables.end(),
                                    [&](const PlannedVariable& v) { return v.name == model_name; });
        if (p == plan.variables.end()) {
          reason = "no such model variable" + renamed;
          if (const auto kind = non_dense.find(e.info.name); kind != non_dense.end()) reason += " (" + kind->second + ")";
        } else if (p->source == VariableSource::kSkippedMismatch && p->checkpoint_key == e.info.name) {
          reason = "shape " + shape_string(e.info.shape) + " != " + shape_string(p->shape) + " of model variable " +
                   p->name + ", skipped (--skip-mismatch)";
        } else if (p->checkpoint_key != e.info.name && !p->checkpoint_key.empty()) {
          reason = "model variable " + p->name + " is restored from " + p->checkpoint_key;
        } else {
          reason = "not selected by --restore" + renamed;
          if (e.info.shape != p->shape) {
            reason += "; its shape " + shape_string(e.info.shape) + " differs from the model's " + shape_string(p->shape);
          }
        }
        break;
      }
    }
    plan.unused.push_back({e.info.name, reason});
  }
  return plan;
}

RestorePlan initial_plan(const std::vector<ParameterSpec>& table) {
  RestorePlan plan;
  for (const auto& p : table) plan.variables.push_back(initialised_variable(p));
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
