#include "checkpoint/slot_sets.h"

#include <algorithm>
#include <regex>
#include <tuple>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/names.h"

namespace graft {
namespace {

const std::string kSlotMarker = "/.OPTIMIZER_SLOT/";

std::vector<std::string> keys_of(const BundleReader& reader) {
  std::vector<std::string> keys;
  for (const BundleEntry& e : reader.entries()) keys.push_back(e.info.name);
  return keys;
}

// A TF1 slot name: class, optimizer name (class + digits, "Adam2") and the
// uniquifying number (0 when none).
struct Tf1Slot {
  std::string kind, base;
  int number = 0;
};

bool parse_tf1_slot(const std::string& slot, Tf1Slot& out) {
  static const std::regex kSlot(
      R"((Adam|Momentum|RMSProp|Adagrad|AdagradDA|Adadelta|Ftrl|ProximalAdagrad|Nadam|AdaMax)(\d*)(?:_(\d{1,6}))?)");
  std::smatch m;
  if (!std::regex_match(slot, m, kSlot)) return false;
  out.kind = m[1];
  out.base = out.kind + m[2].str();
  out.number = m[3].matched ? std::stoi(m[3]) : 0;
  return true;
}

// TF2: "VAR/.OPTIMIZER_SLOT/<optimizer path>/<slot>/.ATTRIBUTES/VARIABLE_VALUE" -> the optimizer path.
std::string tf2_optimizer_path(const std::string& key, const std::string& slot) {
  std::string rest = key.substr(key.find(kSlotMarker) + kSlotMarker.size());
  const std::string suffix = "/" + slot + "/.ATTRIBUTES/VARIABLE_VALUE";
  if (rest.size() > suffix.size() && rest.compare(rest.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return rest.substr(0, rest.size() - suffix.size());
  }
  const auto slash = rest.rfind('/');
  return slash == std::string::npos ? rest : rest.substr(0, slash);
}

SlotSet& set_named(std::map<std::string, SlotSet>& sets, const std::string& name, const std::string& kind) {
  SlotSet& s = sets[name];
  s.name = name;
  s.kind = kind;
  return s;
}

}  // namespace

int slots_per_variable(const std::string& kind) {
  static const std::map<std::string, int> kSlots = {
      {"Adam", 2},     {"Nadam", 2},   {"AdaMax", 2},   {"Momentum", 1},        {"RMSProp", 2},
      {"Adagrad", 1},  {"AdagradDA", 2}, {"Adadelta", 2}, {"ProximalAdagrad", 1}, {"Ftrl", 2}};
  const auto it = kSlots.find(kind);
  return it == kSlots.end() ? 1 : it->second;
}

std::vector<SlotSet> find_slot_sets(const std::vector<std::string>& keys) {
  std::map<std::string, SlotSet> sets;
  // TF1: per variable and optimizer name, the keys by uniquifying number.
  std::map<std::pair<std::string, std::string>, std::vector<std::pair<int, SlotKey>>> tf1;
  std::map<std::pair<std::string, std::string>, std::string> kinds;
  for (const std::string& key : keys) {
    const NameInfo info = classify_name(key);
    if (info.role != VariableRole::kOptimizerSlot) continue;
    if (key.find(kSlotMarker) != std::string::npos) {
      SlotSet& s = set_named(sets, tf2_optimizer_path(key, info.slot), "");
      s.slots[info.variable].push_back({key, info.slot, -1});
      continue;
    }
    Tf1Slot parsed;
    if (!parse_tf1_slot(info.slot, parsed)) continue;
    tf1[{info.variable, parsed.base}].push_back({parsed.number, {key, info.slot, 0}});
    kinds[{info.variable, parsed.base}] = parsed.kind;
  }
  for (auto& [where, numbered] : tf1) {
    const std::string& kind = kinds[where];
    std::sort(numbered.begin(), numbered.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    // Consecutive numbers, one optimizer's worth at a time: Adam, Adam_1 |
    // Adam_2, Adam_3; the set is named after its first.
    const std::size_t per = static_cast<std::size_t>(slots_per_variable(kind));
    for (std::size_t i = 0; i < numbered.size(); i += per) {
      const int first = numbered[i].first;
      const std::string name = first == 0 ? where.second : where.second + "_" + std::to_string(first);
      SlotSet& s = set_named(sets, name, kind);
      for (std::size_t j = i; j < numbered.size() && j < i + per; ++j) {
        SlotKey k = numbered[j].second;
        k.position = static_cast<int>(j - i);
        s.slots[where.first].push_back(k);
      }
    }
  }
  for (auto& [name, s] : sets) {
    for (auto& [var, slots] : s.slots) {
      std::sort(slots.begin(), slots.end(), [](const SlotKey& a, const SlotKey& b) {
        return std::tie(a.position, a.key) < std::tie(b.position, b.key);
      });
    }
  }
  std::vector<SlotSet> out;
  for (auto& [name, s] : sets) out.push_back(std::move(s));
  return out;
}

std::vector<SlotSet> find_slot_sets(const BundleReader& reader) { return find_slot_sets(keys_of(reader)); }

std::vector<PowerScalars> find_power_scalars(const std::vector<std::string>& keys) {
  static const std::regex kBeta1(R"((.*/)?beta1_power(?:_(\d{1,6}))?)");
  std::vector<PowerScalars> out;
  for (const std::string& key : keys) {
    std::smatch m;
    if (!std::regex_match(key, m, kBeta1) || classify_name(key).role != VariableRole::kOptimizerScalar) continue;
    PowerScalars p;
    p.beta1 = key;
    p.suffix = m[2].matched ? std::stoi(m[2]) : 0;
    const std::string partner = m[1].str() + "beta2_power" + (m[2].matched ? "_" + m[2].str() : std::string());
    if (std::find(keys.begin(), keys.end(), partner) != keys.end()) p.beta2 = partner;
    out.push_back(p);
  }
  std::sort(out.begin(), out.end(), [](const PowerScalars& a, const PowerScalars& b) {
    return std::tie(a.suffix, a.beta1) < std::tie(b.suffix, b.beta1);
  });
  return out;
}

std::vector<PowerScalars> find_power_scalars(const BundleReader& reader) {
  return find_power_scalars(keys_of(reader));
}

FoundSlot find_slot(const std::vector<SlotSet>& sets, const std::string& key) {
  for (const SlotSet& s : sets) {
    for (const auto& [var, slots] : s.slots) {
      for (const SlotKey& k : slots) {
        if (k.key == key) return {&s, &k};
      }
    }
  }
  return {};
}

}  // namespace graft
