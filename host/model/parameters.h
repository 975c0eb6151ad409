#pragma once
// Moving parameter values between the table (host/model/model_spec.h) and a
// Backend: initialisation, trainable flags, and host snapshots of the whole
// training state (early stopping keeps the best one; saving writes one).
#include <cstdint>
#include <string>
#include <vector>

#include "host/backend.h"
#include "host/model/model_spec.h"

namespace graft {

// The seed of one variable: the run's seed mixed with the variable's name, so
// a variable's initial values never depend on which other variables exist or
// are restored from a checkpoint.
uint64_t variable_seed(uint64_t seed, const std::string& name);

// The initial values of one variable (its initializer, its fans, its seed).
std::vector<float> initial_values(const ParameterSpec& param, uint64_t seed);

// Writes initial values of every variable of `table` into the backend.
// (Partial restore: call this first, then overwrite selected variables.)
void initialize_parameters(Backend& backend, const std::vector<ParameterSpec>& table, uint64_t seed);

// Backend::set_trainable for every entry, from ParameterSpec::trainable.
void apply_trainable(Backend& backend, const std::vector<ParameterSpec>& table);

// Checks that `values` fits `param` and writes it (error names the variable
// and the source, e.g. the checkpoint file).
void write_parameter(Backend& backend, const ParameterSpec& param, const std::vector<float>& values,
                     const std::string& source);

// Everything an optimizer step changes, copied to the host.
struct TrainingState {
  std::vector<std::vector<float>> params;              // by backend index
  std::vector<std::vector<std::vector<float>>> slots;  // [backend index][slot]
  OptimizerScalars scalars;
};

TrainingState capture_state(Backend& backend, const std::vector<ParameterSpec>& table, int num_slots);
void restore_state(Backend& backend, const TrainingState& state);

}  // namespace graft
