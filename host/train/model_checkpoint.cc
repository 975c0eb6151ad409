#include "host/train/model_checkpoint.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "checkpoint/bundle_writer.h"
#include "checkpoint/error.h"
#include "checkpoint/names.h"
#include "checkpoint/state_file.h"
#include "host/model/model_io.h"
#include "host/restore/checked_read.h"
#include "host/restore/slot_set_choice.h"

namespace graft {
namespace {

std::string last_component(const std::string& key) {
  const std::size_t slash = key.rfind('/');
  return slash == std::string::npos ? key : key.substr(slash + 1);
}

// One tensor to write: a float view, the int64 step, or the model
// description's JSON.
struct Pending {
  const float* values = nullptr;
  Shape shape;
  bool is_step = false;
  const std::string* text = nullptr;
};

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// The checkpoint name of scalar `name` (global_step, beta1_power, ...): as
// the model records it, else graft's default.
std::string scalar_key(const ModelDescription* model, const char* name) {
  if (model) {
    const auto it = model->scalar_names.find(name);
    if (it != model->scalar_names.end()) return it->second;
  }
  return name;
}

std::map<std::string, Pending> pending_tensors(const TrainingState& state, const std::vector<ParameterSpec>& table,
                                               const OptimizerConfig& optimizer, const float* beta_powers,
                                               const std::string* description = nullptr,
                                               const ModelDescription* model = nullptr,
                                               const std::vector<KeptTensor>* kept = nullptr) {
  std::map<std::string, Pending> out;  // std::map: bytewise key order
  for (const ParameterSpec& p : table) {
    const auto index = static_cast<std::size_t>(p.index);
    out[p.name] = {state.params.at(index).data(), p.shape, false};
    for (std::size_t s = 0; s < p.slot_names.size(); ++s) {
      out[p.slot_names[s]] = {state.slots.at(index).at(s).data(), p.shape, false};
    }
  }
  if (optimizer.kind == OptimizerKind::kAdam) {
    out[scalar_key(model, kBeta1PowerName)] = {&beta_powers[0], Shape{}, false};
    out[scalar_key(model, kBeta2PowerName)] = {&beta_powers[1], Shape{}, false};
  }
  out[scalar_key(model, kGlobalStepName)] = {nullptr, Shape{}, true};
  if (description) out[kModelDescriptionKey] = {nullptr, Shape{}, false, description};
  if (kept) {
    for (const KeptTensor& k : *kept) out.emplace(k.key, Pending{k.values.data(), k.shape, false});
  }
  return out;
}

// The key holding `wanted` (e.g. beta1_power): exact name first, then any
// optimizer scalar whose last component is `wanted` (train/beta1_power).
const BundleEntry* find_scalar(const BundleReader& reader, const std::string& wanted, VariableRole role) {
  if (const BundleEntry* e = reader.find(wanted)) return e;
  const BundleEntry* found = nullptr;
  for (const BundleEntry& e : reader.entries()) {
    if (last_component(e.info.name) != wanted || classify_name(e.info.name).role != role) continue;
    if (found) {
      throw Error(reader.prefix() + ": both " + found->info.name + " and " + e.info.name + " could be " + wanted);
    }
    found = &e;
  }
  return found;
}

constexpr int64_t kMaxGlobalStep = int64_t{1} << 53;  // exact in a double (metrics, TensorBoard)

int64_t read_step(const BundleReader& reader, const BundleEntry& entry) {
  if (!entry.info.shape.empty()) {
    throw Error(reader.prefix() + ": " + entry.info.name + " has shape " + shape_string(entry.info.shape) +
                ", expected a scalar");
  }
  std::string bytes(reader.raw_bytes(entry, true));
  if (reader.big_endian()) std::reverse(bytes.begin(), bytes.end());  // one scalar: its bytes
  int64_t v = 0;
  if (entry.info.dtype == DType::kInt64 && bytes.size() == 8) {
    std::memcpy(&v, bytes.data(), 8);
  } else if (entry.info.dtype == DType::kInt32 && bytes.size() == 4) {
    int32_t v32;
    std::memcpy(&v32, bytes.data(), 4);
    v = v32;
  } else {
    throw Error(reader.prefix() + ": " + entry.info.name + " is " + dtype_name(entry.info.dtype) +
                ", expected an int64 step");
  }
  // Training adds to the step (and numbers checkpoints PREFIX-<step>): a
  // negative step or one near INT64_MAX would be wrong or overflow.
  if (v < 0 || v > kMaxGlobalStep) {
    throw Error(reader.prefix() + ": " + entry.info.name + " is " + std::to_string(v) +
                ", outside the steps graft resumes from (0 to " + std::to_string(kMaxGlobalStep) + ")");
  }
  return v;
}

}  // namespace

std::vector<std::string> checkpoint_keys(const std::vector<ParameterSpec>& table, const OptimizerConfig& optimizer) {
  TrainingState empty;
  empty.params.resize(table.size());
  empty.slots.resize(table.size(), std::vector<std::vector<float>>(2));
  const float powers[2] = {0, 0};
  std::vector<std::string> keys;
  for (const auto& [key, _] : pending_tensors(empty, table, optimizer, powers)) keys.push_back(key);
  return keys;
}

void save_checkpoint(const std::string& prefix, const TrainingState& state, const std::vector<ParameterSpec>& table,
                     const OptimizerConfig& optimizer, const ModelDescription* model,
                     const std::vector<KeptTensor>* kept) {
  const std::filesystem::path parent = std::filesystem::path(prefix).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) throw Error("cannot create " + parent.string() + " for checkpoint " + prefix + ": " + ec.message());
  }
  const float powers[2] = {state.scalars.beta1_power, state.scalars.beta2_power};
  const std::string description = model ? model_to_json(*model) : std::string();
  BundleWriter writer(prefix);
  for (const auto& [key, t] :
       pending_tensors(state, table, optimizer, powers, model ? &description : nullptr, model, kept)) {
    if (t.text) {
      writer.add_strings(key, Shape{}, {*t.text});
    } else if (t.is_step) {
      const int64_t step = state.scalars.step;
      writer.add(TensorInfo{key, DType::kInt64, Shape{}}, &step, sizeof step);
    } else {
      writer.add_float(key, t.shape, t.values);
    }
  }
  writer.finish();
  record_checkpoint(prefix);
}

void save_checkpoint(const std::string& prefix, Backend& backend, const std::vector<ParameterSpec>& table,
                     const OptimizerConfig& optimizer, const ModelDescription* model,
                     const std::vector<KeptTensor>* kept) {
  const int slots = static_cast<int>(optimizer_slot_suffixes(optimizer.kind).size());
  save_checkpoint(prefix, capture_state(backend, table, slots), table, optimizer, model, kept);
}

std::vector<KeptTensor> read_kept_tensors(const BundleReader& reader, const std::vector<std::string>& keys) {
  std::vector<KeptTensor> out;
  for (const std::string& key : keys) {
    const BundleEntry* e = reader.find(key);
    if (!e) throw Error(reader.prefix() + ": no tensor " + key);
    out.push_back({key, e->info.shape, read_tensor(reader, key, e->info.shape)});
  }
  return out;
}

std::vector<float> read_tensor(const BundleReader& reader, const std::string& key, const Shape& shape) {
  const BundleEntry* e = reader.find(key);
  if (!e) throw Error(reader.prefix() + ": no tensor " + key);
  if (e->info.shape != shape) {
    throw Error(reader.prefix() + ": " + key + " has shape " + shape_string(e->info.shape) + ", the model needs " +
                shape_string(shape));
  }
  return read_checked_float(reader, *e);
}

std::string ResumeReport::resumed() const {
  std::string text = "resumed " + std::to_string(resumed_variables) + " variables";
  text += ", " + std::to_string(resumed_slots) + " optimizer slots";
  if (!slot_kinds.empty()) {
    text += " (";
    for (std::size_t i = 0; i < slot_kinds.size(); ++i) text += (i ? ", " : "") + slot_kinds[i];
    text += ")";
  }
  for (const std::string& s : resumed_scalars) text += ", " + s;
  if (!unused_slots.empty()) {
    text += "; not used by this optimizer: " + std::to_string(unused_slots.size()) + " slots (" + unused_slots.front() +
            (unused_slots.size() > 1 ? ", ..." : "") + ")";
  }
  return text;
}

std::string ResumeReport::slot_set_note() const {
  if (slot_sets.empty()) return "";
  std::string text = "optimizer slots: " + slot_sets;
  // The kept state, grouped by reason, in key order.
  std::vector<std::string> reasons;
  std::map<std::string, std::vector<std::string>> keys;
  for (const KeptState& k : kept) {
    if (!keys.count(k.reason)) reasons.push_back(k.reason);
    keys[k.reason].push_back(k.key);
  }
  for (const std::string& r : reasons) {
    std::vector<std::string> shown = keys[r];
    const std::size_t all = shown.size();
    if (all > 6) shown.resize(6);
    text += "\nkept as stored, not trained (saves write them back): " + join(shown) +
            (all > 6 ? ", ... (" + std::to_string(all) + " in all)" : std::string()) + ": " + r;
  }
  return text;
}

std::string ResumeReport::describe() const {
  std::string text = "resumed at step " + std::to_string(step);
  if (!missing.empty()) {
    text += "; not in the checkpoint, left at initial values:";
    for (const std::string& m : missing) text += " " + m;
  }
  return text;
}

ResumeReport resume_from_checkpoint(Backend& backend, const BundleReader& reader,
                                    const std::vector<ParameterSpec>& table, const OptimizerConfig& optimizer,
                                    const ResumeOptions& options) {
  ResumeReport report;
  // Resuming continues the same model: a checkpoint variable the model does
  // not have means the architecture flags do not match it.
  std::vector<std::string> extra;
  for (const BundleEntry& e : reader.entries()) {
    if (classify_name(e.info.name).role == VariableRole::kModel && !find_parameter(table, e.info.name)) {
      extra.push_back(e.info.name);
    }
  }
  if (!extra.empty()) {
    std::string list;
    for (std::size_t i = 0; i < extra.size() && i < 6; ++i) list += (i ? ", " : "") + extra[i];
    if (extra.size() > 6) list += ", ... (" + std::to_string(extra.size()) + " in all)";
    throw Error(reader.prefix() + ": the checkpoint has variables the model lacks: " + list +
                " (the model's layers must match the checkpoint's to resume)");
  }

  // Several optimizers' slots: the chosen set's, per variable
  // (host/restore/slot_set_choice.h); the others are kept as stored.
  check_slot_set_name(find_slot_sets(reader), optimizer.kind, options.slot_set, "ResumeOptions::slot_set",
                      reader.prefix());
  std::vector<std::string> trained;
  for (const ParameterSpec& p : table) {
    if (!p.slot_names.empty()) trained.push_back(p.name);
  }
  SlotSetQuery query = slot_set_query(reader, optimizer.kind, trained, options.slot_set, true);
  if (options.model && !options.model->slot_set.empty()) {
    query.record = RecordedSlotSet{"the model recorded in " + reader.prefix(), options.model->slot_set,
                                   options.model->slot_names, options.model->scalar_names};
  }
  const SlotSetChoice choice = choose_slot_sets(query);
  const bool several = choice.several() || query.powers.size() > 1;
  std::map<std::string, std::vector<std::string>> slot_keys;  // model variable -> the keys its slots come from
  std::set<std::string> used;
  for (const ParameterSpec& p : table) {
    std::vector<std::string> keys = p.slot_names;
    const auto chosen = choice.variable_set.find(p.name);
    if (several && chosen != choice.variable_set.end()) {
      for (const SlotSet& s : query.sets) {
        if (s.name != chosen->second) continue;
        for (const SlotKey& k : s.slots.at(p.name)) {
          const int at = slot_position(optimizer.kind, k);
          if (at >= 0 && static_cast<std::size_t>(at) < keys.size()) keys[static_cast<std::size_t>(at)] = k.key;
        }
      }
    }
    if (several && !keys.empty()) report.slot_names[p.name] = keys;
    used.insert(keys.begin(), keys.end());
    slot_keys[p.name] = std::move(keys);
  }
  if (several) {
    report.slot_sets = choice.describe_with_powers();
    report.slot_set = choice.set;
    for (const SlotSet& s : query.sets) {
      for (const auto& [var, slots] : s.slots) {
        const ParameterSpec* p = find_parameter(table, var);
        if (!p || p->slot_names.empty()) continue;  // frozen: its slots stay unused_slots, as before
        for (const SlotKey& k : slots) {
          if (!used.count(k.key)) report.kept.push_back({k.key, other_optimizer_slot(s.name, "resumes")});
        }
      }
    }
    for (const PowerScalars& pair : query.powers) {
      if (pair.beta1 == choice.powers.beta1) continue;
      for (const std::string& key : {pair.beta1, pair.beta2}) {
        if (!key.empty()) report.kept.push_back({key, "power scalars of another optimizer"});
      }
    }
    std::sort(report.kept.begin(), report.kept.end(),
              [](const ResumeReport::KeptState& a, const ResumeReport::KeptState& b) { return a.key < b.key; });
  }
  std::set<std::string> kept_keys;
  for (const ResumeReport::KeptState& k : report.kept) kept_keys.insert(k.key);

  // Slots the checkpoint holds for the model's variables that this
  // optimizer does not use: never dropped without the caller knowing.
  for (const BundleEntry& e : reader.entries()) {
    const NameInfo n = classify_name(e.info.name);
    if (n.role == VariableRole::kOptimizerSlot && find_parameter(table, n.variable) && !used.count(e.info.name) &&
        !kept_keys.count(e.info.name)) {
      report.unused_slots.push_back(e.info.name);
    }
  }
  std::set<std::string> slot_kinds;
  for (const ParameterSpec& p : table) {
    if (!reader.find(p.name)) {
      throw Error(reader.prefix() + ": no variable " + p.name + " to resume from (the model's layers must match "
                  "the checkpoint's)");
    }
    backend.write_param(p.index, read_tensor(reader, p.name, p.shape).data());
    const std::vector<std::string>& keys = slot_keys[p.name];
    for (std::size_t s = 0; s < keys.size(); ++s) {
      if (!reader.find(keys[s])) {
        report.missing.push_back(keys[s]);
        continue;
      }
      backend.write_slot(p.index, static_cast<int>(s), read_tensor(reader, keys[s], p.shape).data());
      ++report.resumed_slots;
      slot_kinds.insert(last_component(keys[s]));
    }
    ++report.resumed_variables;
  }
  report.slot_kinds.assign(slot_kinds.begin(), slot_kinds.end());

  OptimizerScalars scalars = backend.read_scalars();
  if (const BundleEntry* step = find_scalar(reader, kGlobalStepName, VariableRole::kGlobalStep)) {
    scalars.step = read_step(reader, *step);
    report.resumed_scalars.push_back(step->info.name);
    report.scalar_names[kGlobalStepName] = step->info.name;
  } else {
    report.missing.push_back(kGlobalStepName);
    scalars.step = 0;
  }
  if (optimizer.kind == OptimizerKind::kAdam) {
    const char* names[2] = {kBeta1PowerName, kBeta2PowerName};
    float* values[2] = {&scalars.beta1_power, &scalars.beta2_power};
    const float betas[2] = {optimizer.beta1, optimizer.beta2};
    const std::string chosen[2] = {choice.powers.beta1, choice.powers.beta2};
    for (int i = 0; i < 2; ++i) {
      // Several pairs: the chosen set's (none when it cannot be told); one: found by name as ever.
      const BundleEntry* e = several ? (chosen[i].empty() ? nullptr : reader.find(chosen[i]))
                                     : find_scalar(reader, names[i], VariableRole::kOptimizerScalar);
      if (e) {
        *values[i] = read_tensor(reader, e->info.name, Shape{}).at(0);
        report.resumed_scalars.push_back(e->info.name);
        report.scalar_names[names[i]] = e->info.name;
      } else {
        // The value the next update uses: beta^(step + 1).
        *values[i] = static_cast<float>(std::pow(static_cast<double>(betas[i]), static_cast<double>(scalars.step + 1)));
        report.missing.push_back(std::string(names[i]) + " (derived from the step)");
      }
    }
  }
  backend.write_scalars(scalars);
  report.step = scalars.step;
  return report;
}

}  // namespace graft
