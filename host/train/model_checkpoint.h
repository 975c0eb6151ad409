#pragma once
// Saving and resuming training state as a TF1 (tf.train.Saver) checkpoint:
// the model variables NAME/kernel and NAME/bias, each trainable variable's
// optimizer slots under TF1's names (VAR/Adam, VAR/Adam_1, VAR/Momentum, ...),
// Adam's beta1_power/beta2_power, and global_step (int64). Keys are sorted
// bytewise and the data file holds the tensors in key order, as the Saver
// writes them; the directory's `checkpoint` state file is updated.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "host/backend.h"
#include "host/model/model_description.h"
#include "host/model/model_spec.h"
#include "host/model/parameters.h"

namespace graft {

// A tensor of the resumed checkpoint that the run does not train (another
// optimizer's slots and power scalars: TF's Saver over the original graph
// restores every variable of both optimizers), written back unchanged by
// every save of the run.
struct KeptTensor {
  std::string key;
  Shape shape;
  std::vector<float> values;
};

// Checkpoint names of the non-slot state.
inline constexpr const char* kGlobalStepName = "global_step";
inline constexpr const char* kBeta1PowerName = "beta1_power";
inline constexpr const char* kBeta2PowerName = "beta2_power";

// The keys a save of this table writes, sorted.
std::vector<std::string> checkpoint_keys(const std::vector<ParameterSpec>& table, const OptimizerConfig& optimizer);

// Writes `state` (capture_state) to `prefix` (parent folders are created) and
// records it in the folder's `checkpoint` file; with `model`, also the model
// description (host/model/model_io.h); with `kept`, those tensors as they
// were read (a key the state also writes is the state's). Throws graft::Error.
void save_checkpoint(const std::string& prefix, const TrainingState& state, const std::vector<ParameterSpec>& table,
                     const OptimizerConfig& optimizer, const ModelDescription* model = nullptr,
                     const std::vector<KeptTensor>* kept = nullptr);
// The same, reading the state from the backend.
void save_checkpoint(const std::string& prefix, Backend& backend, const std::vector<ParameterSpec>& table,
                     const OptimizerConfig& optimizer, const ModelDescription* model = nullptr,
                     const std::vector<KeptTensor>* kept = nullptr);

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
  // When the checkpoint holds several optimizers' slots (slot sets,
  // checkpoint/slot_sets.h; host/restore/slot_set_choice.h): which set was
  // resumed and why, with its power scalars ("slot set Adam2 (the graph's
  // training op reads it); power scalars beta1_power_1, beta2_power_1
  // (...)"); the set; each trained variable's slots as stored; and the other
  // sets' slots and power scalars, kept as stored (not trained, written back
  // by saves). All empty with one set.
  std::string slot_sets;
  std::string slot_set;
  std::map<std::string, std::vector<std::string>> slot_names;
  struct KeptState {
    std::string key;
    std::string reason;  // "optimizer slot of another optimizer (Adam; --slot-set Adam resumes it)"
  };
  std::vector<KeptState> kept;  // by key
  // The stored keys of the scalars resumed: "global_step" -> "global_step",
  // "beta1_power" -> "train/beta1_power" or "beta1_power_1".
  std::map<std::string, std::string> scalar_names;
  std::string describe() const;  // "resumed at step 1200" (+ the missing list)
  // "resumed 12 variables, 24 optimizer slots (Adam, Adam_1), global_step, beta1_power, beta2_power"
  std::string resumed() const;
  // With several slot sets: "optimizer slots: slot set Adam2 (...)" and the
  // kept state ("kept as stored, not trained: ... (another optimizer's:
  // slot set Adam; --slot-set Adam resumes it)"); "" otherwise.
  std::string slot_set_note() const;
};

struct ResumeOptions {
  // When the checkpoint holds several optimizers' slots: the slot set to
  // resume ("Adam2", "Adam_2"); "" = the model's record of an earlier
  // choice, else the one the graph's (PREFIX.meta) training op reads, else
  // the first by name. A name the checkpoint lacks is an error naming its sets.
  std::string slot_set;
  // The model being resumed: when it records a slot set
  // (ModelDescription::slot_set), that choice continues.
  const ModelDescription* model = nullptr;
};

// Restores every variable of `table` (required), its optimizer slots, the
// beta powers (found by classification, so train/beta1_power works too;
// derived from the step when absent) and global_step into the backend, which
// must have been built for this table and optimizer. The checkpoint's model
// variables must be exactly the table's (same names and shapes). With
// several slot sets, each variable's slots and the power scalars come from
// the chosen set (`options`; the report says which and why).
ResumeReport resume_from_checkpoint(Backend& backend, const BundleReader& reader,
                                    const std::vector<ParameterSpec>& table, const OptimizerConfig& optimizer,
                                    const ResumeOptions& options = {});

// The tensors `keys` of `reader` as float32, for save_checkpoint's `kept`.
std::vector<KeptTensor> read_kept_tensors(const BundleReader& reader, const std::vector<std::string>& keys);

}  // namespace graft
