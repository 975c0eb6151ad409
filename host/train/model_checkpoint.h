#pragma once
// Saving and resuming training state as a TF1 (tf.train.Saver) checkpoint:
// the model variables NAME/kernel and NAME/bias, each trainable variable's
// optimizer slots under TF1's names (VAR/Adam, VAR/Adam_1, VAR/Momentum, ...),
// Adam's beta1_power/beta2_power, and global_step (int64). Keys are sorted
// bytewise and the data file holds the tensors in key order, as the Saver
// writes them; the directory's `checkpoint` state file is updated.
#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "host/backend.h"
#include "host/model/model_description.h"
#include "host/model/model_spec.h"
#include "host/model/parameters.h"

namespace graft {

// Checkpoint names of the non-slot state.
inline constexpr const char* kGlobalStepName = "global_step";
inline constexpr const char* kBeta1PowerName = "beta1_power";
inline constexpr const char* kBeta2PowerName = "beta2_power";

// The keys a save of this table writes, sorted.
std::vector<std::string> checkpoint_keys(const std::vector<ParameterSpec>& table, const OptimizerConfig& optimizer);

// Writes `state` (capture_state) to `prefix` (parent folders are created) and
// records it in the folder's `checkpoint` file; with `model`, also the model
// description (host/model/model_io.h). Throws graft::Error.
void save_checkpoint(const std::string& prefix, const TrainingState& state, const std::vector<ParameterSpec>& table,
                     const OptimizerConfig& optimizer, const ModelDescription* model = nullptr);
// The same, reading the state from the backend.
void save_checkpoint(const std::string& prefix, Backend& backend, const std::vector<ParameterSpec>& table,
                     const OptimizerConfig& optimizer, const ModelDescription* model = nullptr);

// Reads tensor `key` as float32, checking that its shape is `shape`; errors
// name the checkpoint and the tensor.
std::vector<float> read_tensor(const BundleReader& reader, const std::string& key, const Shape& shape);

struct ResumeReport {
  int64_t step = 0;
  // What was not in the checkpoint and kept its initial value, e.g.
  // "hidden1/kernel/Adam (slot)", "global_step".
  std::vector<std::string> missing;
  int64_t resumed_variables = 0;
  int64_t resumed_slots = 0;
  std::vector<std::string> slot_kinds;       // "Adam", "Adam_1"
  std::vector<std::string> resumed_scalars;  // keys as stored: "global_step", "train/beta1_power"
  // Slots in the checkpoint, of the model's variables, that the optimizer
  // being resumed does not have (another optimizer wrote them). They are not
  // restored; callers decide whether that is acceptable (graft train refuses
  // unless told to drop them).
  std::vector<std::string> unused_slots;
  std::string describe() const;  // "resumed at step 1200" (+ the missing list)
  // "resumed 12 variables, 24 optimizer slots (Adam, Adam_1), global_step, beta1_power, beta2_power"
  std::string resumed() const;
};

// Restores every variable of `table` (required), its optimizer slots, the
// beta powers (found by classification, so train/beta1_power works too;
// derived from the step when absent) and global_step into the backend, which
// must have been built for this table and optimizer. The checkpoint's model
// variables must be exactly the table's (same names and shapes).
ResumeReport resume_from_checkpoint(Backend& backend, const BundleReader& reader,
                                    const std::vector<ParameterSpec>& table, const OptimizerConfig& optimizer);

}  // namespace graft
