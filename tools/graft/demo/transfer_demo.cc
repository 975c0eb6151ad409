#include "tools/graft/demo/transfer_demo.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/error.h"
#include "host/train/metrics_sinks.h"
#include "host/train/trainer.h"
#include "host/restore/transfer.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s += std::string(width - s.size(), ' ');
  return s;
}

std::string lpad(const std::string& s, std::size_t width) {
  return s.size() < width ? std::string(width - s.size(), ' ') + s : s;
}

std::string class_range(const std::vector<int>& classes) {
  if (classes.empty()) return "all";
  bool consecutive = true;
  for (std::size_t i = 1; i < classes.size(); ++i) consecutive = consecutive && classes[i] == classes[i - 1] + 1;
  if (consecutive && classes.size() > 1) return std::to_string(classes.front()) + "-" + std::to_string(classes.back());
  std::string out;
  for (int c : classes) out += (out.empty() ? "" : ",") + std::to_string(c);
  return out;
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

// One few-shot run: build, restore, freeze, cache, train, evaluate, save.
struct RunOutcome {
  double test_accuracy = 0;
  double seconds = 0;
  int epochs = 0;
  int best_epoch = 0;
  double epoch_seconds = 0;  // mean wall time of an epoch (training + validation)
  FrozenCacheReport cache;
  RestorePlan plan;
};

enum class Variant { kFrozen, kFinetune, kScratch };

RunOutcome few_shot_run(Backend& backend, Variant variant, const DemoOptions& o, const Dataset& data,
                        const std::string& reference_prefix, uint64_t seed, const std::string& save_prefix,
                        const std::string& logdir, const std::string& run_name, const DemoLog& log) {
  std::vector<int64_t> hidden(o.reference_hidden.begin(), o.reference_hidden.begin() + o.reused_layers);
  hidden.push_back(o.new_hidden);
  ModelSpec spec = make_mlp_spec(data.train.cols, hidden, data.num_classes, Activation{ActivationKind::kRelu});
  std::string reused = "hidden[1-" + std::to_string(o.reused_layers) + "]";
  if (variant == Variant::kFrozen) freeze_variables(spec, {reused});

  TrainOptions t;
  t.epochs = o.max_epochs;
  t.batch_size = o.batch_size;
  t.seed = seed;
  t.early_stopping_patience = o.patience;
  Trainer trainer(backend, spec, o.optimizer, t);

  RunOutcome out;
  const auto start = Clock::now();
  if (variant != Variant::kScratch) {
    RestoreOptions restore;
    restore.restore = {reused};
    out.plan = restore_into(trainer, BundleReader::open(reference_prefix), restore);
  }
  const PreparedData prepared = prepare_training_data(backend, trainer.spec(), data);
  out.cache = prepared.cache;
  TrainingData view = prepared.view();
  view.test = nullptr;  // measured once, at the best epoch
  const MetricsLogger metrics = make_epoch_logger(logdir, run_name);
  const TrainResult r = trainer.fit(view, metrics.epoch_callback());
  out.seconds = seconds_since(start);
  out.epochs = static_cast<int>(r.epochs.size());
  out.best_epoch = r.best_epoch > 0 ? r.best_epoch : out.epochs;
  for (const EpochReport& e : r.epochs) out.epoch_seconds += e.seconds / static_cast<double>(out.epochs);
  const EpochTotals test = trainer.evaluate(*prepared.test, prepared.first_layer);
  out.test_accuracy = static_cast<double>(test.correct) / static_cast<double>(std::max<int64_t>(test.samples, 1));
  if (!save_prefix.empty()) trainer.save(save_prefix);
  if (log) {
    log("  seed " + std::to_string(seed) + ": " + std::to_string(out.epochs) + " epochs (best " +
        std::to_string(out.best_epoch) + "), test accuracy " + fixed(out.test_accuracy, 4) + ", " +
        fixed(out.seconds, 2) + " s");
  }
  return out;
}

}  // namespace

void DemoOptions::make_quick() {
  quick = true;
  reference_epochs = 1;
  reference_validation = 500;
  few_shot_validation = 100;
  max_epochs = 3;
  patience = 2;
  seeds = 1;
}

double DemoRun::mean_accuracy() const { return mean(test_accuracy); }
double DemoRun::min_accuracy() const {
  return test_accuracy.empty() ? 0.0 : *std::min_element(test_accuracy.begin(), test_accuracy.end());
}
double DemoRun::max_accuracy() const {
  return test_accuracy.empty() ? 0.0 : *std::max_element(test_accuracy.begin(), test_accuracy.end());
}
double DemoRun::mean_seconds() const { return mean(seconds); }
double DemoRun::mean_epoch_ms() const { return 1000.0 * mean(epoch_seconds); }

DemoResult run_transfer_demo(Backend& backend, const DemoOptions& o, const DemoLog& log) {
  const auto say = [&](const std::string& line) {
    if (log) log(line);
  };
  if (o.reused_layers < 1 || o.reused_layers > static_cast<int>(o.reference_hidden.size())) {
    throw Error("the demo reuses between 1 and " + std::to_string(o.reference_hidden.size()) + " hidden layers");
  }
  if (o.seeds < 1) throw Error("the demo needs at least one seed");
  const auto start = Clock::now();
  DemoResult result;
  result.seeds = o.seeds;
  result.quick = o.quick;
  result.max_epochs = o.max_epochs;
  result.out_dir = o.out_dir;
  result.logdir = o.logdir.empty() ? (fs::path(o.out_dir) / "tensorboard").string() : o.logdir;
  fs::create_directories(o.out_dir);

  result.device_note = backend.description();

  // Step 1: the reference network on classes 0-4.
  DatasetOptions ref_data;
  ref_data.dir = o.data_dir;
  ref_data.classes = o.reference_classes;
  ref_data.validation = o.reference_validation;
  const Dataset reference_set = load_or_explain(ref_data);
  result.reference_data = reference_set.describe();
  const ModelSpec ref_spec = make_mlp_spec(reference_set.train.cols, o.reference_hidden, reference_set.num_classes,
                                           Activation{ActivationKind::kRelu});
  result.reference_model = ref_spec.describe();
  say("step 1: reference network " + result.reference_model + " on classes " + class_range(o.reference_classes) +
      " (" + result.reference_data + "), " + std::to_string(o.reference_epochs) + " epochs");
  {
    TrainOptions t;
    t.epochs = o.reference_epochs;
    t.batch_size = o.batch_size;
    t.seed = o.seed;
    Trainer trainer(backend, ref_spec, o.optimizer, t);
    const MetricsLogger metrics = make_epoch_logger(result.logdir, "reference");
    const auto ref_start = Clock::now();
    const TrainResult r = trainer.fit(reference_set, metrics.epoch_callback([&](const EpochReport& e) {
      say("  epoch " + std::to_string(e.epoch) + ": loss " + fixed(e.train_loss, 4) + ", valid acc " +
          (e.validation_accuracy ? fixed(*e.validation_accuracy, 4) : std::string("-")) + ", test acc " +
          (e.test_accuracy ? fixed(*e.test_accuracy, 4) : std::string("-")) + " (" + fixed(e.seconds, 1) + " s)");
    }));
    result.reference_seconds = seconds_since(ref_start);
    result.reference_epochs = static_cast<int>(r.epochs.size());
    result.reference_test_accuracy = r.epochs.empty() || !r.epochs.back().test_accuracy ? 0.0 : *r.epochs.back().test_accuracy;
    result.reference_checkpoint = (fs::path(o.out_dir) / "reference" / "model.ckpt").string();
    trainer.save(result.reference_checkpoint);
    say("  saved " + result.reference_checkpoint);
  }

  // Step 2: the few-shot task on classes 5-9.
  DatasetOptions new_data;
  new_data.dir = o.data_dir;
  new_data.classes = o.new_classes;
  new_data.validation = o.few_shot_validation;
  new_data.per_class = o.per_class;
  const Dataset few_shot = load_or_explain(new_data);
  result.few_shot_data = few_shot.describe();
  {
    std::vector<int64_t> hidden(o.reference_hidden.begin(), o.reference_hidden.begin() + o.reused_layers);
    hidden.push_back(o.new_hidden);
    result.new_model =
        make_mlp_spec(few_shot.train.cols, hidden, few_shot.num_classes, Activation{ActivationKind::kRelu}).describe();
  }
  const std::string reused = o.reused_layers == 1 ? "hidden1" : "hidden1-" + std::to_string(o.reused_layers);
  say("step 2: new network " + result.new_model + " on classes " + class_range(o.new_classes) + " (" +
      result.few_shot_data + "); up to " + std::to_string(o.max_epochs) + " epochs, early stopping after " +
      std::to_string(o.patience) + " without a lower validation loss; " + std::to_string(o.seeds) +
      (o.seeds == 1 ? " seed" : " seeds"));

  struct Spec {
    Variant variant;
    const char* key;
    std::string label;
  };
  const std::vector<Spec> variants = {
      {Variant::kFrozen, "frozen", "(a) " + reused + " restored, frozen, cached"},
      {Variant::kFinetune, "finetune", "(b) " + reused + " restored, fine-tuned"},
      {Variant::kScratch, "scratch", "(c) from scratch"},
  };
  for (const Spec& v : variants) {
    DemoRun run;
    run.key = v.key;
    run.label = v.label;
    say(v.label + ":");
    for (int s = 0; s < o.seeds; ++s) {
      const uint64_t seed = o.seed + static_cast<uint64_t>(s);
      const std::string save = s == 0 ? (fs::path(o.out_dir) / v.key / "model.ckpt").string() : std::string();
      const std::string run_name = std::string(v.key) + (s == 0 ? "" : "-seed" + std::to_string(seed));
      RunOutcome out = few_shot_run(backend, v.variant, o, few_shot, result.reference_checkpoint, seed, save,
                                    result.logdir, run_name, log);
      if (s == 0) {
        run.cache = out.cache;
        run.checkpoint = save;
        if (!out.cache.note.empty()) say("  " + out.cache.note);
        if (v.variant == Variant::kFrozen) result.restore_plan = std::move(out.plan);
      }
      run.test_accuracy.push_back(out.test_accuracy);
      run.seconds.push_back(out.seconds);
      run.epochs.push_back(out.epochs);
      run.best_epoch.push_back(out.best_epoch);
      run.epoch_seconds.push_back(out.epoch_seconds);
    }
    result.runs.push_back(std::move(run));
  }

  result.total_seconds = seconds_since(start);
  result.report_path = (fs::path(o.out_dir) / "report.txt").string();
  std::ofstream report(result.report_path);
  report << format_demo_report(result);
  if (!report) throw Error("could not write " + result.report_path);
  return result;
}

std::string format_demo_report(const DemoResult& r) {
  std::string out;
  out += "graft transfer-learning demo on " + r.device_note + "\n";
  if (r.quick) out += "--quick: tiny budgets for a smoke test; these numbers say nothing about transfer learning\n";
  out += "\n";
  out += "reference network " + r.reference_model + ": test accuracy " + fixed(r.reference_test_accuracy, 4) +
         " on its classes after " + std::to_string(r.reference_epochs) + " epochs (" + fixed(r.reference_seconds, 1) +
         " s)\n";
  out += "new network " + r.new_model + " on " + r.few_shot_data + "\n\n";
  out += "restore table of run (a):\n" + r.restore_plan.table();
  for (const DemoRun& run : r.runs) {
    if (!run.cache.note.empty()) out += run.cache.note + "\n";
  }
  out += "\n";

  std::vector<std::vector<std::string>> rows;
  rows.push_back({"run", r.seeds > 1 ? "test accuracy" : "test accuracy", r.seeds > 1 ? "min-max" : "", "epochs (best)",
                  "time/run", "time/epoch"});
  for (const DemoRun& run : r.runs) {
    std::string epochs;
    for (std::size_t i = 0; i < run.epochs.size(); ++i) {
      epochs += (i ? " " : "") + std::to_string(run.epochs[i]) + " (" + std::to_string(run.best_epoch[i]) + ")";
    }
    rows.push_back({run.label, fixed(run.mean_accuracy(), 4),
                    r.seeds > 1 ? fixed(run.min_accuracy(), 4) + "-" + fixed(run.max_accuracy(), 4) : "", epochs,
                    fixed(run.mean_seconds(), 2) + " s", fixed(run.mean_epoch_ms(), 1) + " ms"});
  }
  std::vector<std::size_t> width(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      if (width[c] == 0) continue;
      const bool right = c >= 4;  // times
      line += (line.empty() ? "" : "  ") + (right ? lpad(row[c], width[c]) : pad(row[c], width[c]));
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  if (r.seeds > 1) {
    out += "(" + std::to_string(r.seeds) +
           " seeds per run: mean test accuracy and its range; epochs run and best epoch of each seed)\n";
  }
  out += "(test accuracy on the test images of the new classes, at each run's best validation epoch; time/run:\n"
         " restore, upload, cache and all epochs; time/epoch: one epoch's training and validation pass)\n\n";

  // What the numbers say, whatever they are.
  const DemoRun* scratch = nullptr;
  for (const DemoRun& run : r.runs) {
    if (run.key == "scratch") scratch = &run;
  }
  if (scratch) {
    for (const DemoRun& run : r.runs) {
      if (&run == scratch) continue;
      const double diff = 100.0 * (run.mean_accuracy() - scratch->mean_accuracy());
      std::string verdict;
      if (diff > 0 && run.min_accuracy() > scratch->max_accuracy()) {
        verdict = "beats training from scratch by " + fixed(diff, 1) + " points, on every seed";
      } else if (diff > 0) {
        verdict = "beats training from scratch by " + fixed(diff, 1) +
                  " points on average, but not on every seed (the ranges overlap)";
      } else {
        verdict = "does NOT beat training from scratch (" + fixed(diff, 1) + " points)";
      }
      out += run.label + " " + verdict + "\n";
    }
    for (const DemoRun& run : r.runs) {
      int capped = 0;
      for (std::size_t i = 0; i < run.epochs.size(); ++i) {
        capped += run.epochs[i] == r.max_epochs && run.best_epoch[i] == run.epochs[i];
      }
      if (capped > 0) {
        out += run.label + " was still improving when its budget of " + std::to_string(r.max_epochs) +
               " epochs ran out (" + std::to_string(capped) + " of " + std::to_string(run.epochs.size()) +
               (run.epochs.size() == 1 ? " seed)\n" : " seeds)\n");
      }
    }
    const DemoRun& frozen = r.runs.front();
    if (frozen.mean_epoch_ms() > 0 && scratch->mean_epoch_ms() > 0) {
      out += "an epoch of (a) takes " + fixed(frozen.mean_epoch_ms() / scratch->mean_epoch_ms(), 2) +
             "x the time of an epoch of (c)\n";
    }
  }
  out += "\nwritten to " + r.out_dir + ":\n";
  out += "  " + r.reference_checkpoint + "  the reference network (TF checkpoint)\n";
  for (const DemoRun& run : r.runs) out += "  " + run.checkpoint + "  " + run.label + ", first seed\n";
  out += "  " + r.logdir + "  TensorBoard runs (tensorboard --logdir " + r.logdir + ")\n";
  out += "  " + r.report_path + "  this report\n";
  out += "total time " + fixed(r.total_seconds, 1) + " s\n";
  return out;
}

}  // namespace graft
