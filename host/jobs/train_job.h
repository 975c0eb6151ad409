#pragma once
// One training job, as `graft train` and C++ callers run it: load the data,
// pick the device, build the model (fresh from the request, or the one a
// resumed checkpoint records), resume or restore (transfer learning), log,
// cache frozen layers, train, save. The CLI is a thin layer over this: it
// maps its flags onto TrainJob and prints what the callbacks report.
//
//   TrainJob job;
//   job.data.dir = "/usr/share/datasets/fashion-mnist";
//   job.model.hidden = std::vector<int64_t>{300, 100};
//   job.train.epochs = 5;
//   job.train.save_prefix = "run/model.ckpt";
//   TrainJobResult r = run_train_job(job, {.say = [](const std::string& line) { std::puts(line.c_str()); }});
//
// Errors are graft::Error naming TrainJob's fields ("model.optimizer sgd
// contradicts ..."); TrainJobCallbacks::option_name lets a caller name its
// own options instead (the CLI names its flags).
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cuda/cuda_backend_options.h"
#include "host/data/dataset.h"
#include "host/data/file_dataset.h"
#include "host/model/initializers.h"
#include "host/model/model_description.h"
#include "host/restore/restore_plan.h"
#include "host/train/frozen_cache.h"
#include "host/train/resume_model.h"
#include "host/train/trainer.h"

namespace graft {

// Defaults of a fresh model's request fields.
inline constexpr int64_t kDefaultHidden[] = {300, 100};

struct TrainJob {
  DatasetOptions data;  // data.classes: empty keeps every class (a resumed model keeps its recorded ones)
  // Set: train on a data file and its splits instead of the folder data.dir
  // (host/data/file_dataset.h); data.classes and data.per_class still apply.
  std::optional<FileDatasetOptions> data_file;
  // The model and optimizer asked for. Unset fields: on --resume of a
  // checkpoint that records its model, the recorded values; otherwise the
  // defaults (hidden 300,100; outputs = the data's classes; relu; sgd at
  // lr 0.01, momentum 0.9; no clipping).
  ModelRequest model;
  Initializer initializer = Initializer::kGlorotUniform;
  VarianceScaling variance_scaling;  // initializer variance_scaling's settings
  // Input standardization (host/data/standardize.h), recorded in the model:
  // fitted on the training rows, or read from a mean/stddev JSON file.
  bool standardize = false;
  std::string standardize_from;
  std::vector<std::string> freeze;       // regexes of variables to freeze (host/restore/transfer.h)
  // A fresh model: batch norm after every hidden dense layer
  // (NAME/batch_normalization), before or after its activation, and dropout
  // after every hidden layer (NAME/dropout; one rate for all, or one per
  // hidden layer, 0 = none). A resumed model keeps what it records.
  struct BatchNormRequest {
    bool before_activation = true;
    BatchNormAttrs attrs;
  };
  std::optional<BatchNormRequest> batch_norm;
  std::vector<float> dropout;
  // A frozen batch norm keeps updating its statistics (TF1) instead of
  // running in inference mode (the default, the Keras rule).
  bool frozen_batch_norm_updates_statistics = false;
  std::vector<std::string> layer_names;  // hidden then output; empty: hidden1..N, outputs
  TrainOptions train;

  std::string resume;            // continue from this checkpoint (variables, slots, step)
  // resume: from a checkpoint holding several optimizers' slots, which slot
  // set to continue (slot_set; host/train/model_checkpoint.h). Its `model`
  // is the trainer's own.
  ResumeOptions resume_options;
  bool override_recorded = false;  // resume: optimizer settings of `model` win over the recorded ones
                                   // (and slots the new optimizer does not use are dropped)
  std::string init_from;         // transfer: restore variables from this checkpoint
  RestoreOptions restore;        // which ones, with renames (restore.slot_set: which optimizer's slots)
  bool dry_run = false;          // report the plans, train nothing
  FrozenCacheOptions cache;

  std::string device = "auto";  // cpu, cuda or auto (host/device_select.h)
  int threads = 0;              // CPU threads; 0 = all cores
  std::optional<CudaBackendOptions> cuda;  // unset: from the GRAFT_CUDA_* environment
  std::string logdir;           // TensorBoard event file
  std::string metrics_file;     // .csv or .jsonl, one row per epoch
};

struct TrainJobCallbacks {
  std::function<void(const std::string&)> say;  // one line of report (no newline)
  EpochCallback on_epoch;
  ProgressCallback on_progress;
  std::function<void()> before_fit;  // right before the first step (e.g. start deferring signals)
  // The caller's name for a TrainJob/ModelRequest field in error messages
  // ("hidden" -> "--hidden"); default "model.hidden".
  std::function<std::string(const std::string& field)> option_name;
};

struct TrainJobResult {
  bool dry_run = false;
  TrainResult result;      // empty for a dry run
  ModelDescription model;  // the model trained (and saved with every checkpoint)
};

TrainJobResult run_train_job(const TrainJob& job, const TrainJobCallbacks& callbacks);

}  // namespace graft
