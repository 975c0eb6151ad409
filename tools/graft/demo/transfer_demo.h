#pragma once
// The transfer-learning story of `graft demo` (and `make demo`), as a
// library function: every number it prints is computed by the run.
//
//  1. Train the reference network 784-300-50-50-50-50 (ReLU, SGD lr 0.01,
//     gradients clipped to [-1, 1], batch 50) on Fashion-MNIST classes 0-4
//     and save it as a TF checkpoint.
//  2. A new network 784-300-50-50-20-5 for classes 5-9 with only 100
//     training images per class: hidden1-3 restored from step 1, hidden4
//     (20 units) and outputs new. Trained three ways with the same budget,
//     batch, learning rate and seeds:
//       (a) frozen:   hidden1-3 frozen, their outputs cached;
//       (b) finetune: hidden1-3 restored, everything trained;
//       (c) scratch:  nothing restored.
//     Each run stops early on the validation loss (the same rule for all
//     three) and keeps its best epoch. The validation images are the first
//     `few_shot_validation` images of classes 5-9 in the training file, kept
//     apart from the 100 per class used for training.
//  3. Test accuracy on the 5000 Fashion-MNIST test images of classes 5-9 and
//     the training time of each run, over several seeds (the new layers'
//     initial values and the shuffles; the reference network is trained
//     once), the restore table, and where everything was written.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "host/backend.h"
#include "host/data/dataset.h"
#include "host/train/frozen_cache.h"
#include "host/model/optimizer_config.h"
#include "host/restore/restore_plan.h"

namespace graft {

struct DemoOptions {
  std::string data_dir = kDefaultDataDir;
  std::string out_dir = "graft-demo-output";
  std::string logdir;           // TensorBoard runs; empty: OUT_DIR/tensorboard
  uint64_t seed = 42;

  // Step 1: the reference network.
  std::vector<int> reference_classes = {0, 1, 2, 3, 4};
  std::vector<int64_t> reference_hidden = {300, 50, 50, 50, 50};
  int reference_epochs = 20;
  int64_t reference_validation = 5000;

  // Step 2: the few-shot task.
  std::vector<int> new_classes = {5, 6, 7, 8, 9};
  int64_t per_class = 100;
  int64_t few_shot_validation = 500;
  int reused_layers = 3;        // hidden1..hidden3
  int64_t new_hidden = 20;      // the new hidden4
  int max_epochs = 200;         // the budget of each few-shot run
  int patience = 20;            // early stopping on the validation loss
  int seeds = 3;                // runs per variant: seed, seed+1, ...

  // Shared by every run.
  int64_t batch_size = 50;
  OptimizerConfig optimizer = [] {
    OptimizerConfig o;  // sgd
    o.learning_rate = 0.01f;
    o.clip_value = 1.0f;
    return o;
  }();

  // Tiny budgets for a smoke test (1 reference epoch, 3 few-shot epochs, 1
  // seed, small validation sets); the numbers mean nothing (and the report
  // says so).
  bool quick = false;
  void make_quick();
};

struct DemoRun {
  std::string key;    // "frozen", "finetune", "scratch" (also the folder names)
  std::string label;  // "(a) hidden1-3 restored, frozen, cached"
  std::vector<double> test_accuracy;  // per seed, at the best validation epoch
  std::vector<double> seconds;        // per seed: data upload, cache and training
  std::vector<int> epochs;            // per seed: epochs run
  std::vector<int> best_epoch;        // per seed
  std::vector<double> epoch_seconds;  // per seed: mean time of an epoch (training + validation)
  FrozenCacheReport cache;            // of the first seed
  std::string checkpoint;             // the first seed's final model

  double mean_accuracy() const;
  double min_accuracy() const;
  double max_accuracy() const;
  double mean_seconds() const;
  double mean_epoch_ms() const;       // epoch_seconds, averaged over seeds
};

struct DemoResult {
  std::string device_note;  // Backend::description()
  std::string reference_data, few_shot_data;  // Dataset::describe()
  std::string reference_model, new_model;     // "784-300-50-50-50-50-5 (relu)"
  double reference_test_accuracy = 0;
  double reference_seconds = 0;
  int reference_epochs = 0;
  std::string reference_checkpoint;
  RestorePlan restore_plan;                   // of run (a), first seed
  std::vector<DemoRun> runs;                  // (a), (b), (c)
  int seeds = 0;
  bool quick = false;
  int max_epochs = 0;
  std::string out_dir, logdir, report_path;
  double total_seconds = 0;
};

using DemoLog = std::function<void(const std::string& line)>;

// Runs the whole story on `backend` (select_backend("auto") picks the GPU
// when there is one), writing checkpoints, TensorBoard runs and report.txt
// under options.out_dir; `log` gets progress lines. Throws graft::Error
// (e.g. when the data folder is missing, saying how to get it).
DemoResult run_transfer_demo(Backend& backend, const DemoOptions& options, const DemoLog& log = {});

// The final table and conclusions (what report.txt holds).
std::string format_demo_report(const DemoResult& result);

}  // namespace graft
