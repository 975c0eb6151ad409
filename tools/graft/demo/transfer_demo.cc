#include "tools/graft/demo/transfer_demo.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/error.h"
#include "host/restore/transfer.h"
#include "host/train/metrics_sinks.h"
#include "host/train/trainer.h"
#include "tools/graft/demo/demo_report.h"
#include "tools/graft/demo/demo_pictures.h"
#include "tools/graft/demo/subsample.h"
#include "tools/graft/epoch_line.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}


double mean(const std::vector<double>& v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

Dataset load_or_explain(const DatasetOptions& options) {
  for (const char* name : {"train-images-idx3-ubyte", "t10k-images-idx3-ubyte"}) {
    const fs::path p = fs::path(options.dir) / name;
    if (!fs::exists(p) && !fs::exists(p.string() + ".gz")) {
      throw Error("no Fashion-MNIST data in " + options.dir + " (" + name +
                  "[.gz] is missing): install the Debian package dataset-fashion-mnist (`make deps` does), "
                  "or pass --data DIR with the four IDX files");
    }
  }
  return load_dataset(options);
}

OptimizerConfig adam(float lr) {
  OptimizerConfig o;
  o.kind = OptimizerKind::kAdam;
  o.learning_rate = lr;
  return o;
}

enum class Variant { kFrozen, kFinetune, kScratch };

Variant variant_of(const std::string& key) {
  if (key == "frozen") return Variant::kFrozen;
  if (key == "finetune") return Variant::kFinetune;
  return Variant::kScratch;
}

struct RunOutcome {
  double validation_accuracy = 0;  // at the best epoch
  double test_accuracy = 0;        // at the best epoch
  double seconds = 0;
  double epoch_seconds = 0;
  int epochs = 0;
  int best_epoch = 0;
  bool budget_ran_out = false;
  TrainingCurve curve;
  FrozenCacheReport cache;
};

struct TargetModel {
  ModelSpec spec;
  std::string reused;  // "hidden[1-3]"
};

TargetModel target_model(const DemoOptions& o, int64_t cols, int classes, Variant variant) {
  std::vector<int64_t> hidden(o.source_hidden.begin(), o.source_hidden.begin() + o.reused_layers);
  hidden.push_back(o.new_hidden);
  TargetModel m{make_mlp_spec(cols, hidden, classes, Activation{ActivationKind::kRelu}),
                "hidden[1-" + std::to_string(o.reused_layers) + "]"};
  if (variant == Variant::kFrozen) freeze_variables(m.spec, {m.reused});
  return m;
}

// One run: build, restore, freeze, cache, train with early stopping, evaluate
// the best epoch on the test images.
RunOutcome one_run(Backend& backend, Variant variant, const DemoOptions& o, const Dataset& data,
                   const std::string& source_prefix, uint64_t seed, float lr, const std::string& save_prefix,
                   const MetricsLogger* metrics, const FrozenCacheOptions& cache = {}, int epochs = 0) {
  TargetModel m = target_model(o, data.train.cols, data.num_classes, variant);
  TrainOptions t;
  t.epochs = epochs > 0 ? epochs : o.max_epochs;
  t.batch_size = o.batch_size;
  t.seed = seed;
  const int64_t steps_per_epoch = (data.train.rows + o.batch_size - 1) / o.batch_size;
  const int patience = std::max<int>(o.patience, static_cast<int>((o.patience_steps + steps_per_epoch - 1) /
                                                                  std::max<int64_t>(steps_per_epoch, 1)));
  t.early_stopping_patience = epochs > 0 ? 0 : patience;
  Trainer trainer(backend, m.spec, adam(lr), t);

  RunOutcome out;
  const auto start = Clock::now();
  if (variant != Variant::kScratch) {
    RestoreOptions restore;
    restore.restore = {m.reused};
    restore_into(trainer, BundleReader::open(source_prefix), restore);
  }
  const PreparedData prepared = prepare_training_data(backend, trainer.spec(), data, cache);
  out.cache = prepared.cache;
  TrainingData view = prepared.view();
  view.test = nullptr;  // measured once, at the best epoch
  const EpochCallback record = [&](const EpochReport& e) {
    out.curve.validation_accuracy.push_back(e.validation_accuracy.value_or(0.0));
    out.curve.train_loss.push_back(e.train_loss);
  };
  const TrainResult r = trainer.fit(view, metrics ? metrics->epoch_callback(record) : record);
  out.seconds = seconds_since(start);
  out.epochs = static_cast<int>(r.epochs.size());
  out.best_epoch = r.best_epoch > 0 ? r.best_epoch : out.epochs;
  for (const EpochReport& e : r.epochs) out.epoch_seconds += e.seconds / static_cast<double>(out.epochs);
  // The budget ran out before early stopping did (the best epoch may be earlier).
  out.budget_ran_out = !r.stopped_early && out.epochs == o.max_epochs;
  const EpochReport& best = r.epochs[static_cast<std::size_t>(out.best_epoch - 1)];
  out.validation_accuracy = best.validation_accuracy.value_or(0.0);
  const EpochTotals test = trainer.evaluate(*prepared.test, prepared.first_layer);
  out.test_accuracy = static_cast<double>(test.correct) / static_cast<double>(std::max<int64_t>(test.samples, 1));
  if (!save_prefix.empty()) trainer.save(save_prefix);
  return out;
}

}  // namespace

void DemoOptions::make_quick() {
  quick = true;
  source_epochs = 1;
  source_validation = 500;
  validation = 100;
  per_class_grid = {10, 30};
  learning_rates = {0.001f, 0.003f};
  max_epochs = 3;
  patience = 2;
  patience_steps = 0;
  seeds = 1;
}

void DemoOptions::make_full() {
  per_class_grid = {10, 30, 100, 300, 1000};
  seeds = 3;
  validation = 1000;
}

double CurvePoint::mean() const { return graft::mean(test_accuracy); }
double CurvePoint::min() const {
  return test_accuracy.empty() ? 0.0 : *std::min_element(test_accuracy.begin(), test_accuracy.end());
}
double CurvePoint::max() const {
  return test_accuracy.empty() ? 0.0 : *std::max_element(test_accuracy.begin(), test_accuracy.end());
}

const CurvePoint* DemoResult::point(int64_t per_class, const std::string& variant) const {
  for (const CurvePoint& p : points) {
    if (p.per_class == per_class && p.variant == variant) return &p;
  }
  return nullptr;
}

std::vector<int64_t> DemoResult::grid() const {
  std::vector<int64_t> g;
  for (const CurvePoint& p : points) {
    if (std::find(g.begin(), g.end(), p.per_class) == g.end()) g.push_back(p.per_class);
  }
  return g;
}

DemoResult run_transfer_demo(Backend& backend, const DemoOptions& o, const DemoLog& log) {
  const auto say = [&](const std::string& line) {
    if (log) log(line);
  };
  if (o.reused_layers < 1 || o.reused_layers > static_cast<int>(o.source_hidden.size())) {
    throw Error("the demo reuses between 1 and " + std::to_string(o.source_hidden.size()) + " hidden layers");
  }
  if (o.seeds < 1) throw Error("the demo needs at least one seed");
  if (o.per_class_grid.empty() || o.learning_rates.empty()) throw Error("the demo needs a grid of N and of rates");
  const auto start = Clock::now();
  DemoResult result;
  result.seeds = o.seeds;
  result.quick = o.quick;
  result.max_epochs = o.max_epochs;
  result.patience = o.patience;
  result.patience_steps = o.patience_steps;
  result.validation = o.validation;
  result.out_dir = o.out_dir;
  result.logdir = o.logdir.empty() ? (fs::path(o.out_dir) / "tensorboard").string() : o.logdir;
  result.source_description = o.source_description;
  fs::create_directories(o.out_dir);
  result.device_note = backend.description();
  if (o.quick) say("--quick: tiny budgets for a smoke test; these numbers say nothing about transfer learning");

  // Step 1: the source network.
  DatasetOptions src;
  src.dir = o.data_dir;
  src.classes = o.source_classes;
  src.relabel_to = o.source_labels;
  src.validation = o.source_validation;
  const Dataset source_set = load_or_explain(src);
  result.source_data = source_set.describe();
  const ModelSpec src_spec = make_mlp_spec(source_set.train.cols, o.source_hidden, source_set.num_classes,
                                           Activation{ActivationKind::kRelu});
  result.source_model = src_spec.describe();
  say("step 1: source network " + result.source_model + " on " + o.source_description + " (" + result.source_data +
      "), Adam lr " + rate_text(o.source_learning_rate) + ", " + std::to_string(o.source_epochs) + " epochs");
  {
    TrainOptions t;
    t.epochs = o.source_epochs;
    t.batch_size = o.batch_size;
    t.seed = o.seed;
    Trainer trainer(backend, src_spec, adam(o.source_learning_rate), t);
    const MetricsLogger metrics = make_epoch_logger(result.logdir, "source");
    const auto t0 = Clock::now();
    const TrainResult r =
        trainer.fit(source_set, metrics.epoch_callback([&](const EpochReport& e) { say(epoch_line(e)); }));
    result.source_seconds = seconds_since(t0);
    result.source_epochs = static_cast<int>(r.epochs.size());
    result.source_test_accuracy =
        r.epochs.empty() || !r.epochs.back().test_accuracy ? 0.0 : *r.epochs.back().test_accuracy;
    result.source_checkpoint = (fs::path(o.out_dir) / "source" / "model.ckpt").string();
    trainer.save(result.source_checkpoint);
    say("saved " + result.source_checkpoint);
  }

  // Step 2: the target task. All of its training images are loaded once;
  // each (N, seed) draws its own N per class (subsample.h).
  DatasetOptions tgt;
  tgt.dir = o.data_dir;
  tgt.classes = o.target_classes;
  tgt.validation = o.validation;
  const Dataset target_all = load_or_explain(tgt);
  const std::string reused = o.reused_layers == 1 ? "hidden1" : "hidden1-" + std::to_string(o.reused_layers);
  result.variant_labels = {"(a) " + reused + " restored, frozen, cached", "(b) " + reused + " restored, fine-tuned",
                           "(c) from scratch"};
  std::vector<int64_t> grid = o.per_class_grid;
  std::sort(grid.begin(), grid.end());
  result.target_model =
      target_model(o, target_all.train.cols, target_all.num_classes, Variant::kScratch).spec.describe();
  result.target_data = std::to_string(target_all.num_classes) + " classes; N training images per class drawn from " +
                       std::to_string(target_all.train.rows) + ", " + std::to_string(target_all.validation.rows) +
                       " validation, " + std::to_string(target_all.test.rows) + " test";
  say("");
  say("step 2: new network " + result.target_model + " on " + result.target_data);

  // The restore table and the cache decision, before any run: a frozen
  // model restored once, and the decision for the largest N.
  {
    TargetModel m = target_model(o, target_all.train.cols, target_all.num_classes, Variant::kFrozen);
    TrainOptions t;
    t.batch_size = o.batch_size;
    Trainer trainer(backend, m.spec, adam(o.learning_rates.front()), t);
    RestoreOptions restore;
    restore.restore = {m.reused};
    result.restore_plan = restore_into(trainer, BundleReader::open(result.source_checkpoint), restore);
    const int64_t rows = grid.back() * target_all.num_classes + target_all.validation.rows + target_all.test.rows;
    result.cache_note = decide_frozen_cache(trainer.spec(), rows, {}, backend.memory()).note;
  }
  say("restore table of (a) and (b):");
  std::string table = restore_table_text(result.restore_plan);
  while (!table.empty() && table.back() == '\n') table.pop_back();
  say(table);
  say("cache of (a) at " + std::to_string(grid.back()) + " images per class: " + result.cache_note);
  std::string rates;
  for (float lr : o.learning_rates) rates += (rates.empty() ? "" : ", ") + rate_text(lr);
  say("each variant: Adam with the learning rate (of " + rates +
      ") that has the best mean validation accuracy; up to " +
      std::to_string(o.max_epochs) + " epochs, early stopping after " + std::to_string(o.patience) +
      " epochs (and at least " + std::to_string(o.patience_steps) + " steps) without a lower validation loss; " +
      std::to_string(o.seeds) + (o.seeds == 1 ? " seed" : " seeds"));

  result.curves_per_class = o.curves_per_class > 0 ? o.curves_per_class : grid.front();
  if (std::find(grid.begin(), grid.end(), result.curves_per_class) == grid.end()) {
    result.curves_per_class = grid.front();
  }
  for (int64_t n : grid) {
    std::vector<Dataset> samples;
    for (int s = 0; s < o.seeds; ++s) samples.push_back(subsample_per_class(target_all, n, o.seed + s));
    for (std::size_t v = 0; v < result.variant_keys.size(); ++v) {
      const std::string& key = result.variant_keys[v];
      std::vector<RunOutcome> best_runs;
      double best_validation = -1;
      CurvePoint point;
      point.per_class = n;
      point.variant = key;
      for (float lr : o.learning_rates) {
        std::vector<RunOutcome> runs;
        for (int s = 0; s < o.seeds; ++s) {
          const uint64_t seed = o.seed + static_cast<uint64_t>(s);
          const std::string run_name = key + "-n" + std::to_string(n) + "-lr" + rate_text(lr) + "-seed" +
                                       std::to_string(seed);
          const MetricsLogger metrics = make_epoch_logger(result.logdir, run_name);
          // The first seed at the largest N keeps its model, one per rate;
          // the report names the chosen rate's.
          const std::string save = n == grid.back() && s == 0
                                       ? (fs::path(o.out_dir) / key / ("lr" + rate_text(lr)) / "model.ckpt").string()
                                       : std::string();
          runs.push_back(one_run(backend, variant_of(key), o, samples[static_cast<std::size_t>(s)],
                                 result.source_checkpoint, seed, lr, save, &metrics));
          ++result.runs;
        }
        std::vector<double> val;
        for (const RunOutcome& r : runs) val.push_back(r.validation_accuracy);
        point.rates_tried.push_back(lr);
        point.validation_by_rate.push_back(mean(val));
        if (mean(val) > best_validation) {
          best_validation = mean(val);
          point.learning_rate = lr;
          best_runs = std::move(runs);
        }
      }
      std::vector<double> run_s, epoch_s;
      for (const RunOutcome& r : best_runs) {
        point.test_accuracy.push_back(r.test_accuracy);
        point.epochs.push_back(r.epochs);
        point.best_epoch.push_back(r.best_epoch);
        point.budget_ran_out += r.budget_ran_out;
        run_s.push_back(r.seconds);
        epoch_s.push_back(r.epoch_seconds);
      }
      point.run_seconds = mean(run_s);
      point.epoch_seconds = mean(epoch_s);
      if (n == result.curves_per_class) {
        TrainingCurve c = best_runs.front().curve;
        c.variant = key;
        result.curves.push_back(std::move(c));
      }
      std::string val_text;
      for (std::size_t i = 0; i < point.rates_tried.size(); ++i) {
        val_text += (i ? " " : "") + fixed(point.validation_by_rate[i], 4);
      }
      say(std::to_string(n) + " per class  " + result.variant_labels[v] + ": lr " + rate_text(point.learning_rate) +
          " (valid acc by rate " + val_text + "), test acc " + fixed(point.mean(), 4) +
          (o.seeds > 1 ? " (" + fixed(point.min(), 4) + "-" + fixed(point.max(), 4) + ")" : std::string()) + ", " +
          fixed(point.run_seconds, 2) + " s/run, " + fixed(1000 * point.epoch_seconds, 1) + " ms/epoch");
      result.points.push_back(std::move(point));
    }
  }

  for (const std::string& key : result.variant_keys) {
    const CurvePoint* p = result.point(grid.back(), key);
    result.checkpoints.push_back(
        (fs::path(o.out_dir) / key / ("lr" + rate_text(p->learning_rate)) / "model.ckpt").string());
  }

  // The cache's own speed-up: the same frozen run with and without it.
  {
    const CurvePoint* p = result.point(grid.back(), "frozen");
    const Dataset sample = subsample_per_class(target_all, grid.back(), o.seed);
    result.cache_epochs = o.quick ? 1 : 5;
    FrozenCacheOptions off;
    off.enabled = false;
    const RunOutcome cached = one_run(backend, Variant::kFrozen, o, sample, result.source_checkpoint, o.seed,
                                      p->learning_rate, {}, nullptr, {}, result.cache_epochs);
    const RunOutcome uncached = one_run(backend, Variant::kFrozen, o, sample, result.source_checkpoint, o.seed,
                                        p->learning_rate, {}, nullptr, off, result.cache_epochs);
    result.cached_epoch_seconds = cached.epoch_seconds;
    result.uncached_epoch_seconds = uncached.epoch_seconds;
    result.cache_seconds = cached.cache.seconds;
    say("cache speed-up at " + std::to_string(grid.back()) + " images per class: an epoch of (a) takes " +
        fixed(1000 * cached.epoch_seconds, 1) + " ms with the cache, " + fixed(1000 * uncached.epoch_seconds, 1) +
        " ms without (computing the cache: " + fixed(1000 * cached.cache.seconds, 1) + " ms)");
  }

  result.pictures = write_demo_pictures(result);
  result.total_seconds = seconds_since(start);
  result.report_path = (fs::path(o.out_dir) / "report.txt").string();
  std::ofstream report(result.report_path);
  report << format_demo_report(result);
  if (!report) throw Error("could not write " + result.report_path);
  return result;
}

}  // namespace graft
