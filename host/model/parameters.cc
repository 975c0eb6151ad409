#include "host/model/parameters.h"

#include "checkpoint/error.h"
#include "host/data/shuffle_key.h"

namespace graft {

uint64_t variable_seed(uint64_t seed, const std::string& name) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the name
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  return splitmix64(splitmix64(seed) ^ h);
}

std::vector<float> initial_values(const ParameterSpec& param, uint64_t seed) {
  std::vector<float> values(static_cast<std::size_t>(param.elements()));
  fill_initial_values(param.initializer, param.fan_in, param.fan_out, variable_seed(seed, param.name),
                      values.data(), param.elements(), param.variance_scaling);
  return values;
}

void initialize_parameters(Backend& backend, const std::vector<ParameterSpec>& table, uint64_t seed) {
  for (const ParameterSpec& p : table) backend.write_param(p.index, initial_values(p, seed).data());
}

void apply_trainable(Backend& backend, const std::vector<ParameterSpec>& table) {
  for (const ParameterSpec& p : table) backend.set_trainable(p.index, p.trainable);
}

void write_parameter(Backend& backend, const ParameterSpec& param, const std::vector<float>& values,
                     const std::string& source) {
  if (static_cast<int64_t>(values.size()) != param.elements()) {
    throw Error(source + ": " + param.name + " has " + std::to_string(values.size()) + " values, the model needs " +
                std::to_string(param.elements()));
  }
  backend.write_param(param.index, values.data());
}

TrainingState capture_state(Backend& backend, const std::vector<ParameterSpec>& table, int num_slots) {
  TrainingState state;
  state.params.resize(table.size());
  state.slots.resize(table.size());
  for (const ParameterSpec& p : table) {
    auto& values = state.params[static_cast<std::size_t>(p.index)];
    values.resize(static_cast<std::size_t>(p.elements()));
    backend.read_param(p.index, values.data());
    auto& slots = state.slots[static_cast<std::size_t>(p.index)];
    slots.resize(static_cast<std::size_t>(num_slots));
    for (int s = 0; s < num_slots; ++s) {
      slots[static_cast<std::size_t>(s)].resize(values.size());
      backend.read_slot(p.index, s, slots[static_cast<std::size_t>(s)].data());
    }
  }
  state.scalars = backend.read_scalars();
  return state;
}

void restore_state(Backend& backend, const TrainingState& state) {
  for (std::size_t i = 0; i < state.params.size(); ++i) {
    backend.write_param(static_cast<int>(i), state.params[i].data());
    for (std::size_t s = 0; s < state.slots[i].size(); ++s) {
      backend.write_slot(static_cast<int>(i), static_cast<int>(s), state.slots[i][s].data());
    }
  }
  backend.write_scalars(state.scalars);
}

}  // namespace graft
