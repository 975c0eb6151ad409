#include "host/train/divergence.h"

#include <cmath>

namespace graft {
namespace {

bool all_finite(const std::vector<float>& values) {
  for (float v : values) {
    if (!std::isfinite(v)) return false;
  }
  return true;
}

std::string loss_text(double loss) {
  if (std::isnan(loss)) return "nan";
  return loss > 0 ? "inf" : "-inf";
}

std::string message(int64_t step, const std::optional<double>& loss, const std::string& tensor) {
  std::string m = "training diverged at step " + std::to_string(step) + ": ";
  if (loss) m += "loss is " + loss_text(*loss) + "; ";
  m += tensor.empty() ? "every parameter is still finite" : "first non-finite tensor: " + tensor;
  return m + " (this state was not saved; lower the learning rate or clip the gradients)";
}

}  // namespace

DivergenceError::DivergenceError(int64_t step, std::optional<double> loss, std::string tensor)
    : Error(message(step, loss, tensor)), step_(step), loss_(loss), tensor_(std::move(tensor)) {}

std::string first_non_finite(const TrainingState& state, const std::vector<ParameterSpec>& table) {
  for (const ParameterSpec& p : table) {
    const auto index = static_cast<std::size_t>(p.index);
    if (index < state.params.size() && !all_finite(state.params[index])) return p.name;
    if (index >= state.slots.size()) continue;
    for (std::size_t s = 0; s < state.slots[index].size() && s < p.slot_names.size(); ++s) {
      if (!all_finite(state.slots[index][s])) return p.slot_names[s];
    }
  }
  return {};
}

std::string first_non_finite_parameter(Backend& backend, const std::vector<ParameterSpec>& table) {
  std::vector<float> values;
  for (const ParameterSpec& p : table) {
    values.resize(static_cast<std::size_t>(p.elements()));
    backend.read_param(p.index, values.data());
    if (!all_finite(values)) return p.name;
  }
  return {};
}

}  // namespace graft
