#pragma once
// Divergence detection for the training loop: a NaN or Inf in the loss or in
// any tensor of the training state stops training with a message naming the
// step and the first bad tensor, before anything is saved, so the last good
// checkpoint is never overwritten by a diverged state.
//
// The trainer checks the epoch's mean loss and scans the parameters (one host
// copy) at the end of every epoch, and scans the captured state (parameters
// and optimizer slots) before every save.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/error.h"
#include "host/backend.h"
#include "host/model/model_spec.h"
#include "host/model/parameters.h"

namespace graft {

// Thrown by Trainer::fit. what(): "training diverged at step 1234: loss is
// nan; first non-finite tensor: hidden2/kernel (this state was not saved; ...)".
class DivergenceError : public Error {
 public:
  DivergenceError(int64_t step, std::optional<double> loss, std::string tensor);
  int64_t step() const { return step_; }
  // The non-finite mean loss that revealed it (absent when the loss was
  // finite or unknown).
  const std::optional<double>& loss() const { return loss_; }
  // The first tensor (table order, slots after their variable) holding a NaN
  // or Inf; empty when only the loss was non-finite.
  const std::string& tensor() const { return tensor_; }

 private:
  int64_t step_;
  std::optional<double> loss_;
  std::string tensor_;
};

// Name of the first non-finite tensor of `state` (each variable of `table`,
// then its slots, in table order), or empty.
std::string first_non_finite(const TrainingState& state, const std::vector<ParameterSpec>& table);
// The same over the parameters held by the backend (copies each to the host).
std::string first_non_finite_parameter(Backend& backend, const std::vector<ParameterSpec>& table);

}  // namespace graft
