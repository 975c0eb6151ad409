#pragma once
// The training loop as a library: builds the model in a backend, initialises
// it, optionally resumes from a checkpoint, runs epochs of shuffled
// mini-batches with per-epoch metrics, early stopping (keeping the best
// state) and saving. The CLI (`graft train`) is a thin layer over this.
//
// Typical use:
//   Trainer trainer(*backend, make_mlp_spec(784, {300, 100}, 10, relu), optimizer, options);
//   trainer.resume(BundleReader::open(prefix));          // optional
//   TrainResult r = trainer.fit(load_dataset(data_options), on_epoch);
//
// Transfer learning builds on the same object: after construction every
// variable holds its initial value, so restoring selected variables is
// writing them over (write_parameter); frozen layers come from the spec
// (LayerSpec::kernel_trainable/bias_trainable); a frozen prefix can be cached
// with backend().forward_prefix and trained through fit(TrainingData) with
// first_layer = k.
//
// Reliability (docs/training.md): a raised stop flag ends fit() after the
// current step with a save (a resumed run continues at the next batch of the
// same epoch, giving the parameters of an uninterrupted run); a NaN or Inf in
// the loss or the state throws DivergenceError (host/train/divergence.h) before any
// save.
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "host/backend.h"
#include "host/train/checkpoint_rotation.h"
#include "host/data/dataset.h"
#include "host/train/model_checkpoint.h"
#include "host/step_plan.h"
#include "host/model/model_description.h"
#include "host/model/model_spec.h"
#include "host/model/parameters.h"

namespace graft {

// Training totals over a window of steps (TrainOptions::log_every).
struct StepReport {
  int epoch = 0;           // 1-based within this run
  int64_t step = 0;        // global step at the end of the window
  int64_t steps = 0;       // steps in the window (log_every, fewer for the first window after a resume)
  double train_loss = 0;   // mean over the window's samples
  double train_accuracy = 0;
  int64_t examples = 0;    // training samples in the window
  double seconds = 0;      // wall time of the window
  double learning_rate = 0;  // of the window's last step (the schedule's value at that step)
};
using StepCallback = std::function<void(const StepReport&)>;

struct TrainOptions {
  int epochs = 10;
  int64_t batch_size = 50;
  uint64_t seed = 42;               // initial values and the per-epoch shuffles
  int early_stopping_patience = 0;  // stop after this many epochs without a lower validation loss; 0 = off
  std::string save_prefix;          // empty: do not save
  int64_t eval_batch = 2048;        // rows per evaluation pass (the backend's max_batch is the larger of the two)
  const std::atomic<bool>* stop = nullptr;  // checked between batches (e.g. set by SIGINT, host/train/interrupt.h)
  // Where a stopped run saves when save_prefix is empty (empty: nowhere).
  std::string interrupt_prefix;
  // Periodic checkpoints (host/train/checkpoint_rotation.h), needs save_prefix:
  // every save_every epochs or steps the state goes to save_prefix-<global
  // step>, recorded in the folder's `checkpoint` file, which keeps the newest
  // `keep` (0 = all; older numbered files are deleted). The final and an
  // interrupted run's checkpoints are numbered the same way.
  SaveEvery save_every;
  int keep = 5;
  // Every log_every global steps (0 = never) on_steps gets the training
  // totals of the steps since the previous report: one host synchronisation
  // per log_every steps, none in between.
  int64_t log_every = 0;
  StepCallback on_steps;
};

struct EpochReport {
  int epoch = 0;          // 1-based within this run
  int64_t step = 0;       // global step after the epoch
  double train_loss = 0;  // mean over the epoch's batches (as the parameters moved)
  double train_accuracy = 0;
  std::optional<double> validation_loss, validation_accuracy;
  std::optional<double> test_loss, test_accuracy;
  double seconds = 0;
  bool best = false;      // early stopping: the lowest validation loss so far
  int64_t examples = 0;        // training samples seen in the epoch
  double train_seconds = 0;    // wall time of the epoch's training steps (without evaluation)
  double learning_rate = 0;    // the rate the epoch's last step used (its schedule's value)
};

struct TrainResult {
  std::vector<EpochReport> epochs;
  int best_epoch = 0;     // early stopping: the epoch whose state the model now holds
  bool stopped_early = false;
  // options.stop was raised: the state at `step` (not the early-stopping
  // best, which stays at save_prefix) is what the model holds and was saved.
  bool interrupted = false;
  std::string saved_prefix;  // empty when nothing was saved
  int64_t step = 0;          // global step at the end
};

// Data already in the backend. validation and test may be null. Their
// columns are the inputs of layer first_layer (0, or k for sets produced by
// backend.forward_prefix(.., k)).
struct TrainingData {
  DeviceDataset* train = nullptr;
  const DeviceDataset* validation = nullptr;
  const DeviceDataset* test = nullptr;
  int first_layer = 0;
};

using EpochCallback = std::function<void(const EpochReport&)>;
using ProgressCallback = std::function<void(int epoch, int64_t batch, int64_t batches)>;

class Trainer {
 public:
  // Validates the spec, builds the backend for it (max_batch = the larger
  // of batch_size and eval_batch), applies the trainable flags and writes
  // every variable's initial value (seeded).
  Trainer(Backend& backend, ModelSpec spec, const OptimizerConfig& optimizer, const TrainOptions& options);
  // The same for a model description (host/model/model_description.h), which
  // must name its optimizer; it is saved with every checkpoint, so eval and
  // resume know the model without being told.
  Trainer(Backend& backend, const ModelDescription& model, const TrainOptions& options);

  const ModelSpec& spec() const { return spec_; }
  const ModelDescription& model() const { return model_; }
  const std::vector<ParameterSpec>& table() const { return table_; }
  const OptimizerConfig& optimizer() const { return optimizer_; }
  const TrainOptions& options() const { return options_; }
  Backend& backend() { return backend_; }

  // What one training step does for data whose columns are the inputs of
  // layer first_layer (host/step_plan.h).
  StepPlan step_plan(int first_layer = 0) const;

  // Restores variables, slots, beta powers and the step (host/train/model_checkpoint.h).
  // Scalars stored under other names (train/beta1_power) and, from a
  // checkpoint holding several optimizers' slots, the chosen set's slot
  // names are kept by every save of the run and recorded in the model; the
  // other sets' slots and power scalars are written back as they were read.
  ResumeReport resume(const BundleReader& reader, const ResumeOptions& options = {});

  // Uploads the splits and trains (see fit(TrainingData)). Throws when the
  // data's features or classes do not fit the model.
  TrainResult fit(const Dataset& data, const EpochCallback& on_epoch = {}, const ProgressCallback& on_progress = {});
  TrainResult fit(const TrainingData& data, const EpochCallback& on_epoch = {},
                  const ProgressCallback& on_progress = {});

  // Loss and accuracy of the current parameters.
  EpochTotals evaluate(const DeviceDataset& data, int first_layer = 0);

  // Saves the current state to `prefix` (TF1 names; updates `checkpoint`).
  void save(const std::string& prefix);

 private:
  Backend& backend_;
  Trainer(Backend& backend, const ModelDescription& model, const TrainOptions& options, ModelSpec spec);
  // The learning rate of the last of `step` updates (the schedule's value
  // at step - 1, the first step's before any).
  float learning_rate_used(int64_t step) const;
  // optimizer.schedule plateau: one epoch's validation loss; a reduced rate
  // goes to the backend and the model description (saved with it).
  void reduce_on_plateau(double validation_loss);

  ModelSpec spec_;
  ModelDescription model_;
  OptimizerConfig optimizer_;
  TrainOptions options_;
  std::vector<ParameterSpec> table_;
  std::vector<KeptTensor> kept_;  // another optimizer's state from the resumed checkpoint
};

}  // namespace graft
