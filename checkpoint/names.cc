#include "checkpoint/names.h"

#include <regex>

namespace graft {
namespace {

const std::string kValueSuffix = "/.ATTRIBUTES/VARIABLE_VALUE";
const std::string kSlotMarker = "/.OPTIMIZER_SLOT/";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string strip_value_suffix(const std::string& s) {
  return ends_with(s, kValueSuffix) ? s.substr(0, s.size() - kValueSuffix.size()) : s;
}

std::string last_component(const std::string& s) {
  const auto slash = s.rfind('/');
  return slash == std::string::npos ? s : s.substr(slash + 1);
}

// TF2: "<var>/.OPTIMIZER_SLOT/<optimizer path>/<slot>/.ATTRIBUTES/VARIABLE_VALUE".
NameInfo classify_tf2_slot(const std::string& key, std::size_t marker) {
  NameInfo info;
  info.role = VariableRole::kOptimizerSlot;
  info.variable = key.substr(0, marker);
  info.slot = last_component(strip_value_suffix(key.substr(marker + kSlotMarker.size())));
  return info;
}

}  // namespace

NameInfo classify_name(const std::string& key) {
  NameInfo info;
  if (key == "_CHECKPOINTABLE_OBJECT_GRAPH") {
    info.role = VariableRole::kObjectGraph;
    return info;
  }
  if (key == kModelDescriptionKey) {
    info.role = VariableRole::kModelDescription;
    return info;
  }
  if (const auto marker = key.find(kSlotMarker); marker != std::string::npos) {
    return classify_tf2_slot(key, marker);
  }

  if (ends_with(key, kValueSuffix)) {
    // TF2 object-based key.
    info.variable = strip_value_suffix(key);
    const std::string first = info.variable.substr(0, info.variable.find('/'));
    if (first == "optimizer" && info.variable != first) {
      info.role = VariableRole::kOptimizerScalar;  // iter, learning_rate, beta_1, decay, ...
    } else if (info.variable == "global_step" || info.variable == "save_counter") {
      info.role = VariableRole::kGlobalStep;  // training bookkeeping, not a weight
    }
    return info;
  }

  // TF1 name-based key.
  info.variable = key;
  const std::string last = last_component(key);
  if (last == "global_step") {
    info.role = VariableRole::kGlobalStep;
    return info;
  }
  static const std::regex kPower(R"(beta[12]_power(_\d+)?)");
  if (std::regex_match(last, kPower)) {
    info.role = VariableRole::kOptimizerScalar;
    return info;
  }
  // Slots are "<var>/<optimizer name>" with "_N" for the 2nd, 3rd, ... slot;
  // a renamed optimizer ("Adam2") keeps the base name with a number.
  static const std::regex kSlot(
      R"((Adam|Momentum|RMSProp|Adagrad|AdagradDA|Adadelta|Ftrl|ProximalAdagrad|Nadam|AdaMax)\d*(_\d+)?)");
  if (last != key && std::regex_match(last, kSlot)) {
    info.role = VariableRole::kOptimizerSlot;
    info.variable = key.substr(0, key.size() - last.size() - 1);
    info.slot = last;
  }
  return info;
}

const char* role_name(VariableRole role) {
  switch (role) {
    case VariableRole::kModel: return "model";
    case VariableRole::kOptimizerSlot: return "optimizer slot";
    case VariableRole::kOptimizerScalar: return "optimizer scalar";
    case VariableRole::kGlobalStep: return "global step";
    case VariableRole::kObjectGraph: return "object graph";
    case VariableRole::kModelDescription: return "graft model description";
  }
  return "unknown";
}

}  // namespace graft
