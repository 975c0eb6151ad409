#include "host/model/optimizer_config.h"

#include <cmath>
#include <utility>

#include "checkpoint/error.h"

namespace graft {

std::string optimizer_name(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::kSgd: return "sgd";
    case OptimizerKind::kMomentum: return "momentum";
    case OptimizerKind::kNesterov: return "nesterov";
    case OptimizerKind::kAdagrad: return "adagrad";
    case OptimizerKind::kRmsProp: return "rmsprop";
    case OptimizerKind::kAdam: return "adam";
  }
  return "unknown";
}

std::optional<OptimizerKind> parse_optimizer(const std::string& text) {
  for (OptimizerKind k : {OptimizerKind::kSgd, OptimizerKind::kMomentum, OptimizerKind::kNesterov,
                          OptimizerKind::kAdagrad, OptimizerKind::kRmsProp, OptimizerKind::kAdam}) {
    if (text == optimizer_name(k)) return k;
  }
  if (text == "gradient_descent" || text == "gd") return OptimizerKind::kSgd;
  return std::nullopt;
}

std::vector<std::string> optimizer_slot_suffixes(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::kSgd: return {};
    case OptimizerKind::kMomentum:
    case OptimizerKind::kNesterov: return {"Momentum"};
    case OptimizerKind::kAdagrad: return {"Adagrad"};
    case OptimizerKind::kRmsProp: return {"RMSProp", "RMSProp_1"};
    case OptimizerKind::kAdam: return {"Adam", "Adam_1"};
  }
  return {};
}

std::vector<float> optimizer_slot_initial_values(const OptimizerConfig& config) {
  switch (config.kind) {
    case OptimizerKind::kSgd: return {};
    case OptimizerKind::kMomentum:
    case OptimizerKind::kNesterov: return {0.0f};
    case OptimizerKind::kAdagrad: return {config.adagrad_initial};
    case OptimizerKind::kRmsProp: return {1.0f, 0.0f};  // TF1: ms starts at ones, mom at zeros
    case OptimizerKind::kAdam: return {0.0f, 0.0f};
  }
  return {};
}

void check_finite_hyperparameters(const OptimizerConfig& o) {
  const std::pair<const char*, float> values[] = {
      {"learning_rate", o.learning_rate}, {"momentum", o.momentum},         {"adagrad_initial", o.adagrad_initial},
      {"rho", o.rho},                     {"rmsprop_momentum", o.rmsprop_momentum},
      {"rmsprop_epsilon", o.rmsprop_epsilon}, {"beta1", o.beta1},           {"beta2", o.beta2},
      {"adam_epsilon", o.adam_epsilon},   {"clip_value", o.clip_value},     {"clip_norm", o.clip_norm}};
  for (const auto& [name, v] : values) {
    if (!std::isfinite(v)) {
      throw Error(std::string("OptimizerConfig::") + name + " is " + std::to_string(v) + ", not a finite number");
    }
  }
}

}  // namespace graft
