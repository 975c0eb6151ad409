#pragma once
// The transfer-learning story of `graft demo` (and `make demo`), as a
// library function: every number it prints is computed by the run.
//
//  1. The source network 784-300-50-50-50-50 (ReLU, Adam) is trained on the
//     source task and saved as a TF checkpoint. By default the source task
//     is the same training images under a coarser labelling (tops, bottoms,
//     footwear, bags; chosen by measurement, docs/transfer-learning.md): its
//     features separate garments by shape, which is what the fine classes
//     need. It never sees a test image.
//  2. The target task (the ten Fashion-MNIST classes) with only N labelled
//     images per class, for each N of the grid: a new network 784-300-20-10,
//     hidden1 restored from step 1 (reused_layers), trained three ways:
//       (a) frozen:   hidden1 frozen, its outputs cached;
//       (b) finetune: hidden1 restored, everything trained;
//       (c) scratch:  nothing restored.
//     Each (N, variant) tries every learning rate of the grid on every seed;
//     the rate with the best mean validation accuracy is kept, and only its
//     test accuracies are reported (mean and range over seeds). The seed
//     picks the N images per class (a different sample per seed), the new
//     layers' initial values and the shuffles. Every run stops early on the
//     validation loss and keeps its best epoch; the validation images are
//     the first `validation` images of the training file, never trained on.
//  3. report.txt with the restore table, the cache decision, the
//     learning-curve table, the sentences that summarise it
//     (demo_report.h), and two pictures (plot.h): learning_curve.{png,svg}
//     and training_curves.{png,svg}.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "host/backend.h"
#include "host/data/dataset.h"
#include "host/restore/restore_plan.h"
#include "host/train/frozen_cache.h"

namespace graft {

struct DemoOptions {
  std::string data_dir = kDefaultDataDir;
  std::string out_dir = "graft-demo-output";
  std::string logdir;  // TensorBoard runs; empty: OUT_DIR/tensorboard
  uint64_t seed = 42;

  // Step 1: the source network. source_labels[i] is the source label of
  // original class source_classes[i] (empty: 0, 1, 2, ...).
  std::vector<int> source_classes = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  std::vector<int> source_labels = {0, 1, 0, 1, 0, 2, 0, 2, 3, 2};  // tops, bottoms, footwear, bags
  std::string source_description = "the same training images, labelled coarsely: tops, bottoms, footwear, bags";
  std::vector<int64_t> source_hidden = {300, 50, 50, 50, 50};
  int source_epochs = 5;
  int64_t source_validation = 5000;
  float source_learning_rate = 0.001f;  // Adam

  // Step 2: the target task.
  std::vector<int> target_classes = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  // The default grid keeps `make demo` within a few minutes on 2 shared
  // cores (the small-N runs are many short epochs, each with a validation
  // pass); make_full() has the whole curve.
  std::vector<int64_t> per_class_grid = {10, 100};
  // Adam, chosen per variant and N. Measured: 0.003 and 0.01 never won on
  // this task (docs/transfer-learning.md).
  std::vector<float> learning_rates = {0.0001f, 0.0003f, 0.001f};
  int64_t validation = 500;   // target validation images (first of the training file)
  int reused_layers = 1;      // hidden1 (300 units); hidden1-2 and hidden1-3 measured worse
  int64_t new_hidden = 20;    // the new hidden4
  int max_epochs = 1000;      // budget of each run; the report says when one ran out
  int patience = 10;          // early stopping on the validation loss, in epochs,
  int patience_steps = 100;   // but at least this many steps: 10 images per class make one-step epochs
  int seeds = 2;              // runs per (N, variant, rate): seed, seed+1, ... (--full: 3)
  int64_t batch_size = 50;
  // The training curves picture shows the runs at this N (0: the smallest).
  int64_t curves_per_class = 0;

  // Tiny budgets for a smoke test; the numbers mean nothing (the report says so).
  bool quick = false;
  void make_quick();
  // The complete grid: 10, 30, 100, 300, 1000 images per class, 3 seeds.
  void make_full();
};

// One (N, variant) cell of the learning curve, at its chosen learning rate.
struct CurvePoint {
  int64_t per_class = 0;
  std::string variant;  // "frozen", "finetune", "scratch"
  float learning_rate = 0;
  std::vector<float> rates_tried;
  std::vector<double> validation_by_rate;  // mean validation accuracy of each rate tried
  std::vector<double> test_accuracy;       // per seed, chosen rate
  std::vector<int> epochs, best_epoch;     // per seed, chosen rate
  double run_seconds = 0;                  // mean per run, chosen rate (restore, upload, cache, epochs)
  double epoch_seconds = 0;                // mean per epoch, chosen rate
  int budget_ran_out = 0;                  // seeds still improving at max_epochs

  double mean() const;
  double min() const;
  double max() const;
};

// Validation accuracy per epoch of one run (the training curves picture).
struct TrainingCurve {
  std::string variant;
  std::vector<double> validation_accuracy, train_loss;
};

struct DemoResult {
  std::string device_note;
  std::string source_data, source_model, source_description;
  double source_test_accuracy = 0;
  double source_seconds = 0;
  int source_epochs = 0;
  std::string source_checkpoint;
  std::string target_data, target_model;
  RestorePlan restore_plan;  // of run (a)
  std::string cache_note;    // the cache decision of run (a) at the largest N
  std::vector<std::string> variant_keys = {"frozen", "finetune", "scratch"};
  std::vector<std::string> variant_labels;  // "(a) hidden1 restored, frozen, cached", ...
  std::vector<CurvePoint> points;           // per N, then per variant (variant_keys order)
  int64_t curves_per_class = 0;
  std::vector<TrainingCurve> curves;        // first seed, chosen rate, at curves_per_class
  // The cache's speed-up: run (a) at the largest N, first seed, chosen
  // rate, with and without the cache, for cache_epochs epochs each.
  int cache_epochs = 0;
  double cached_epoch_seconds = 0, uncached_epoch_seconds = 0, cache_seconds = 0;
  int seeds = 0;
  int max_epochs = 0, patience = 0, patience_steps = 0;
  int64_t validation = 0;
  bool quick = false;
  std::string out_dir, logdir, report_path;
  std::vector<std::string> pictures;        // written files
  std::vector<std::string> checkpoints;     // per variant: largest N, first seed, chosen rate
  double total_seconds = 0;
  int runs = 0;

  const CurvePoint* point(int64_t per_class, const std::string& variant) const;
  std::vector<int64_t> grid() const;
};

using DemoLog = std::function<void(const std::string& line)>;

// Runs the whole story on `backend`, writing checkpoints, TensorBoard runs,
// pictures and report.txt under options.out_dir; `log` gets progress lines.
// Throws graft::Error (e.g. when the data folder is missing, saying how to
// get it).
DemoResult run_transfer_demo(Backend& backend, const DemoOptions& options, const DemoLog& log = {});

}  // namespace graft
