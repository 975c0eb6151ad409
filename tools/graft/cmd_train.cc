// Over 500 lines: graft train has ~60 flags, and their declarations (with
// the help text users read) and their mapping onto TrainJob are most of it;
// the work is the library's.
// graft train: flags -> the library's TrainJob (host/jobs/train_job.h),
// which does the work; this file prints what it reports, one line per epoch
// (and a progress bar when stdout is a terminal). SIGINT/SIGTERM stop after
// the current step with a checkpoint and exit 130/143 (host/train/interrupt.h).
#include <fmt/format.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "checkpoint/error.h"
#include "host/data/dataset.h"
#include "host/train/frozen_cache.h"
#include "host/model/initializers.h"
#include "host/model/layer_activations.h"
#include "host/model/lr_schedule_spec.h"
#include "host/model/regularization_spec.h"
#include "host/train/interrupt.h"
#include "host/train/metrics_sinks.h"
#include "host/restore/rename_rules.h"
#include "host/jobs/train_job.h"
#include "host/train/trainer.h"
#include "tools/graft/commands.h"
#include "tools/graft/epoch_line.h"
#include "tools/graft/data_flags.h"
#include "tools/graft/cuda_flags.h"
#include "tools/graft/hooks/test_hooks.h"
#include "tools/graft/flag_checks.h"

namespace graft::cli {
namespace {

struct TrainFlags {
  std::vector<int64_t> hidden = {300, 100};
  int64_t outputs = 0;  // 0: the data's number of classes
  std::string activation = "relu";
  std::string initializer = "glorot_uniform";
  std::string data = kDefaultDataDir;
  std::string classes;
  int64_t per_class = 0;
  int64_t validation = 5000;
  int epochs = 10;
  int64_t batch_size = 50;
  std::string optimizer = "sgd";
  float lr = 0.01f;
  float momentum = 0.9f;
  float clip_value = 0.0f;
  float clip_norm = 0.0f;
  std::string lr_schedule;  // host/model/lr_schedule_spec.h
  std::string l1, l2, max_norm;  // host/model/regularization_spec.h
  bool regularize_biases = false;
  bool standardize = false;
  std::string standardize_from;
  std::string save;
  std::string save_every;  // N, Nepochs or Nsteps (host/train/checkpoint_rotation.h)
  int keep = 5;
  std::string resume;
  // Transfer learning (docs/transfer-learning.md).
  std::string init_from;
  std::vector<std::string> restore, renames, freeze, layer_names;
  bool skip_mismatch = false, restore_slots = false, dry_run = false, no_cache = false;
  std::string slot_set;  // with --restore-slots or --resume: which optimizer's slots (host/restore/slot_set_choice.h)
  std::string cache_limit;
  int early_stopping = 0;
  uint64_t seed = 42;
  std::string device = "auto";
  int threads = 0;
  std::string logdir;
  int64_t log_every = 0;
  std::string metrics;
  bool override_checkpoint = false;
  std::string batch_norm;  // before|after[,momentum=M][,epsilon=E][,no-center][,no-scale]
  std::string dropout;     // RATE or RATE,RATE,... (one per hidden layer)
  bool frozen_bn_updates = false;
  CudaFlags cuda;
  std::set<std::string> given;  // the options set on the command line (flag names, "--hidden")
  DataFlags data_flags;         // --data FILE: labels, splits (tools/graft/data_flags.h)
};

// Where an interrupted run without --save puts its checkpoint.
constexpr const char* kInterruptPrefix = "graft-interrupted/model.ckpt";

// "[=====>    ]  512/1100" on one line, redrawn in place.
class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled) {}
  void update(int epoch, int64_t done, int64_t total) {
    if (!enabled_) return;
    const int width = 30;
    const int filled = static_cast<int>(width * done / total);
    if (filled == last_filled_ && done != total) return;
    last_filled_ = filled;
    std::string bar(static_cast<std::size_t>(filled), '=');
    if (filled < width) bar += '>' + std::string(static_cast<std::size_t>(width - filled - 1), ' ');
    std::fprintf(stdout, "\repoch %d [%s] %lld/%lld", epoch, bar.c_str(), static_cast<long long>(done),
                 static_cast<long long>(total));
    std::fflush(stdout);
  }
  void clear() {
    if (!enabled_) return;
    std::fprintf(stdout, "\r\033[K");
    last_filled_ = -1;
  }

 private:
  bool enabled_;
  int last_filled_ = -1;
};

std::string accuracy_text(const std::optional<double>& v) { return v ? fmt::format("{:.4f}", *v) : "-"; }

FrozenCacheOptions cache_options(const TrainFlags& f) {
  FrozenCacheOptions o;
  o.enabled = !f.no_cache;
  if (!f.cache_limit.empty()) o.limit_bytes = parse_byte_size(f.cache_limit);
  return o;
}

// --batch-norm before|after[,momentum=M][,epsilon=E][,no-center][,no-scale].
TrainJob::BatchNormRequest parse_batch_norm(const std::string& text) {
  TrainJob::BatchNormRequest r;
  std::size_t start = 0;
  bool placed = false;
  const auto bad = [&](const std::string& part) {
    return Error("--batch-norm '" + text + "': '" + part +
                 "' is not before, after, momentum=M, epsilon=E, no-center or no-scale");
  };
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string part = text.substr(start, comma - start);
    start = comma + 1;
    const auto eq = part.find('=');
    const std::string key = part.substr(0, eq);
    if (eq == std::string::npos) {
      if (part == "before" || part == "after") {
        r.before_activation = part == "before";
        placed = true;
      } else if (part == "no-center") {
        r.attrs.center = false;
      } else if (part == "no-scale") {
        r.attrs.scale = false;
      } else {
        throw bad(part);
      }
      continue;
    }
    double value = 0;
    try {
      std::size_t used = 0;
      value = std::stod(part.substr(eq + 1), &used);
      if (used != part.size() - eq - 1) throw bad(part);
    } catch (const std::logic_error&) {
      throw bad(part);
    }
    if (key == "momentum") {
      r.attrs.momentum = value;
    } else if (key == "epsilon") {
      r.attrs.epsilon = static_cast<float>(value);
    } else {
      throw bad(part);
    }
  }
  if (!placed) throw Error("--batch-norm '" + text + "': say where it goes: before or after (the activation)");
  return r;
}

std::vector<float> parse_dropout(const std::string& text) {
  std::vector<float> rates;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string part = text.substr(start, comma - start);
    start = comma + 1;
    try {
      std::size_t used = 0;
      const float r = std::stof(part, &used);
      if (used != part.size() || !(r >= 0.0f && r < 1.0f)) throw std::invalid_argument(part);
      rates.push_back(r);
    } catch (const std::logic_error&) {
      throw Error("--dropout '" + text + "': '" + part + "' is not a rate in [0, 1)");
    }
  }
  return rates;
}

// The flag that sets each TrainJob/ModelRequest field (for the library's messages).
std::string flag_of(const std::string& field) {
  static const std::map<std::string, const char*> flags = {
      {"hidden", "--hidden"},         {"outputs", "--outputs"},          {"activation", "--activation"},
      {"names", "--layer-names"},     {"classes", "--classes"},          {"frozen", "--freeze"},
      {"optimizer", "--optimizer"},   {"learning_rate", "--lr"},         {"momentum", "--momentum"},
      {"clip_value", "--clip-value"}, {"clip_norm", "--clip-norm"},      {"override_recorded", "--override"},
      {"batch_norm", "--batch-norm"}, {"dropout", "--dropout"},
      {"lr_schedule", "--lr-schedule"}, {"standardize", "--standardize"},
      {"standardize_from", "--standardize-from"}, {"l1", "--l1"}, {"l2", "--l2"}, {"max_norm", "--max-norm"},
      {"regularize_biases", "--regularize-biases"}, {"slot_set", "--slot-set"},
      {"restore_slots", "--restore-slots"}, {"save", "--save"}};
  const auto it = flags.find(field);
  return it == flags.end() ? field : it->second;
}

// --data DIR: the IDX folder as before; --data FILE: a data file with its
// splits (host/data/file_dataset.h), whose rows per class the job reports.
void set_data_file(const TrainFlags& f, TrainJob& job) {
  if (!is_data_file(f.data)) {
    check_folder_flags(f.data, f.data_flags);
    return;
  }
  if (f.given.count("--validation")) {
    throw Error("--validation N is for IDX folders; with --data FILE use --validation-split FRACTION or "
                "--validation-data FILE");
  }
  job.data_file = file_options(f.data, f.data_flags, DatasetOptions{}, f.seed, std::nullopt);
}

// Flags -> the library's job (host/jobs/train_job.h). Model and optimizer
// flags join the request only when given: on --resume the checkpoint's
// recorded model fills the rest.
TrainJob job_from(const TrainFlags& f) {
  TrainJob job;
  const bool given_hidden = f.given.count("--hidden") > 0;
  if (given_hidden) job.model.hidden = f.hidden;
  if (f.given.count("--outputs")) job.model.outputs = f.outputs;
  const bool per_layer = f.activation.find_first_of(",=") != std::string::npos;
  if (f.given.count("--activation") && per_layer) {
    job.model.layer_activations = parse_layer_activations(f.activation);
  } else if (f.given.count("--activation")) {
    const auto activation = parse_activation(f.activation);
    if (!activation) throw Error("unknown activation '" + f.activation + "'");
    job.model.activation = *activation;
  }
  if (f.given.count("--optimizer")) {
    const auto kind = parse_optimizer(f.optimizer);
    if (!kind) throw Error("unknown optimizer '" + f.optimizer + "' (sgd, momentum, nesterov, adagrad, rmsprop, adam)");
    job.model.optimizer = *kind;
  }
  if (f.given.count("--lr")) job.model.learning_rate = f.lr;
  if (f.given.count("--momentum")) job.model.momentum = f.momentum;
  if (f.given.count("--clip-value")) job.model.clip_value = f.clip_value;
  if (f.given.count("--clip-norm")) job.model.clip_norm = f.clip_norm;
  if (f.given.count("--lr-schedule")) job.model.lr_schedule = parse_lr_schedule(f.lr_schedule);
  RegularizationRequest& reg = job.model.regularization;
  if (f.given.count("--l1")) reg.l1 = parse_scale_spec(f.l1);
  if (f.given.count("--l2")) reg.l2 = parse_scale_spec(f.l2);
  if (f.given.count("--max-norm")) reg.max_norm = parse_max_norm_spec(f.max_norm);
  if (f.given.count("--regularize-biases")) reg.regularize_biases = f.regularize_biases;
  const std::size_t colon = f.initializer.find(':');
  const auto initializer = parse_initializer(f.initializer.substr(0, colon));
  if (!initializer) {
    throw Error("unknown initializer '" + f.initializer +
                "' (glorot_uniform, he_normal, he_uniform, variance_scaling[:...], lecun_normal)");
  }
  if (colon != std::string::npos && *initializer != Initializer::kVarianceScaling) {
    throw Error("initializer " + f.initializer.substr(0, colon) + " takes no parameters");
  }
  job.initializer = *initializer;
  if (colon != std::string::npos) job.variance_scaling = parse_variance_scaling(f.initializer.substr(colon + 1));
  job.layer_names = f.layer_names;
  job.freeze = f.freeze;
  if (!f.batch_norm.empty()) job.batch_norm = parse_batch_norm(f.batch_norm);
  if (!f.dropout.empty()) job.dropout = parse_dropout(f.dropout);
  job.frozen_batch_norm_updates_statistics = f.frozen_bn_updates;
  job.standardize = f.standardize;
  job.standardize_from = f.standardize_from;

  job.data.dir = f.data;
  if (!f.classes.empty()) job.data.classes = parse_class_list(f.classes);
  job.data.per_class = f.per_class;
  job.data.validation = f.validation;
  set_data_file(f, job);

  TrainOptions& t = job.train;
  t.epochs = f.epochs;
  t.batch_size = f.batch_size;
  t.seed = f.seed;
  t.early_stopping_patience = f.early_stopping;
  t.save_prefix = f.save;
  t.stop = InterruptGuard::flag();  // SIGINT/SIGTERM: finish the step, save, exit 130/143
  t.interrupt_prefix = kInterruptPrefix;
  if (!f.save_every.empty()) t.save_every = parse_save_every(f.save_every);
  t.keep = f.keep;
  t.log_every = f.log_every;

  job.resume = f.resume;
  job.override_recorded = f.override_checkpoint;
  job.init_from = f.init_from;
  job.restore.restore = f.restore;
  job.restore.renames = parse_rename_rules(f.renames);
  job.restore.skip_mismatch = f.skip_mismatch;
  job.restore.restore_slots = f.restore_slots;
  if (!f.slot_set.empty() && f.resume.empty() && !f.restore_slots) {
    throw Error("--slot-set chooses which optimizer's slots --restore-slots or --resume restores: pass one of them");
  }
  job.restore.slot_set = f.resume.empty() ? f.slot_set : "";
  job.resume_options.slot_set = f.resume.empty() ? "" : f.slot_set;
  job.dry_run = f.dry_run;
  job.cache = cache_options(f);
  job.device = f.device;
  job.threads = f.threads;
  job.cuda = cuda_options(f.cuda);
  job.logdir = f.logdir;
  job.metrics_file = f.metrics;
  return job;
}

int run_train(const TrainFlags& f) {
  const TrainJob job = job_from(f);
  ProgressBar bar(::isatty(STDOUT_FILENO) != 0);
  InterruptGuard interrupts;  // until the end: a signal during the final save is deferred too
  const int64_t stop_after = test_stop_after_steps();
  int64_t steps_run = 0;
  TrainJobCallbacks callbacks;
  callbacks.say = [](const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  };
  callbacks.option_name = flag_of;
  callbacks.on_epoch = [&](const EpochReport& r) {
    bar.clear();
    // No test accuracy per epoch: printed every epoch it invites choosing
    // an epoch by it. It is reported once, for the model the run keeps.
    std::printf("%s\n", epoch_line(r).c_str());
    std::fflush(stdout);
  };
  callbacks.on_progress = [&](int epoch, int64_t batch, int64_t batches) {
    bar.update(epoch, batch, batches);
    if (++steps_run == stop_after) std::raise(SIGINT);  // GRAFT_TEST_STOP_AFTER_STEPS
  };
  // From the first step to the exit a signal stops training cleanly (with a
  // save); a signal during the final save is deferred too, then ignored.
  callbacks.before_fit = [&] { interrupts.hold(); };
  const TrainJobResult job_result = run_train_job(job, callbacks);
  bar.clear();
  if (job_result.dry_run) return 0;
  const TrainResult& result = job_result.result;

  const int sig = interrupts.signal() != 0 ? interrupts.signal() : SIGINT;
  if (result.interrupted) {
    std::printf("interrupted by %s at step %lld\n", InterruptGuard::signal_name(sig),
                static_cast<long long>(result.step));
  }
  if (result.stopped_early) std::printf("early stopping: no better validation loss for %d epochs\n", f.early_stopping);
  if (f.early_stopping > 0 && result.best_epoch > 0) {
    const EpochReport& best = result.epochs[static_cast<std::size_t>(result.best_epoch - 1)];
    std::printf("best epoch %d: valid acc %s, test acc %s\n", best.epoch, accuracy_text(best.validation_accuracy).c_str(),
                accuracy_text(best.test_accuracy).c_str());
  } else if (!result.interrupted && !result.epochs.empty() && result.epochs.back().test_accuracy) {
    // The model the run keeps is the last epoch's (an interrupted run keeps
    // a mid-epoch state nobody measured: nothing is printed for it).
    const EpochReport& last = result.epochs.back();
    std::printf("test acc %s (the model of the last epoch, %d)\n", accuracy_text(last.test_accuracy).c_str(), last.epoch);
  }
  if (!result.saved_prefix.empty()) std::printf("saved %s\n", result.saved_prefix.c_str());
  if (result.interrupted) {
    // The unfinished epoch counts as one of the epochs left.
    const int left = f.epochs - static_cast<int>(result.epochs.size());
    if (left > 0 && !result.saved_prefix.empty()) {
      std::printf("to continue: the same command with --resume %s --epochs %d\n", result.saved_prefix.c_str(), left);
    }
    std::fflush(stdout);
    return InterruptGuard::exit_code(sig);
  }
  return 0;
}

}  // namespace

void register_train(CLI::App& app) {
  auto flags = std::make_shared<TrainFlags>();
  CLI::App* sub = app.add_subcommand("train", "Train a dense network (TF layer names) on an MNIST-style data set");
  sub->add_option("--hidden", flags->hidden, "Hidden layer widths, e.g. 300,50,50")->delimiter(',')->allow_extra_args(false)->capture_default_str();
  sub->add_option("--outputs", flags->outputs, "Output units (default: the number of classes)");
  sub->add_option("--activation", flags->activation,
                  "relu, elu, selu, leaky_relu[:ALPHA], tanh, sigmoid, identity: one for every hidden layer, one "
                  "per hidden layer (elu,elu,relu), or LAYER=ACTIVATION pairs (hidden1=selu,hidden2=tanh; the "
                  "others relu)")->capture_default_str();
  sub->add_option("--initializer", flags->initializer,
                  "Kernels: glorot_uniform (tf.layers.dense's), he_normal (TF2 semantics), he_uniform, lecun_normal "
                  "(for SELU), or TF1's variance_scaling[:scale=S,mode=fan_in|fan_out|fan_avg,distribution="
                  "truncated_normal|untruncated_normal|uniform] (TF1 defaults scale=1, fan_in, truncated_normal; "
                  "TF1's He initialization, tf.variance_scaling_initializer(scale=2.0), is variance_scaling:scale=2)")
      ->capture_default_str();
  sub->add_option("--data", flags->data,
                  "Folder with the four IDX files (optionally .gz), or a data file: .npy (with --labels), .npz, CSV, IDX")
      ->capture_default_str();
  add_data_flags(sub, flags->data_flags, DataUse::kTrain);
  auto* standardize = sub->add_flag(
      "--standardize", flags->standardize,
      "Standardize each input feature, (x - mean) / stddev, with the mean and stddev of the training rows only (as "
      "sklearn's StandardScaler; a constant feature gets stddev 1); recorded, so eval/predict/--resume apply it");
  sub->add_option("--standardize-from", flags->standardize_from,
                  "Standardize with the mean/stddev in FILE, JSON {\"mean\": [...], \"stddev\": [...]} (one value per "
                  "feature, after the input scale), e.g. for a model trained elsewhere on standardized inputs")
      ->excludes(standardize)
      ->check(CLI::ExistingFile);
  sub->add_option("--classes", flags->classes, "Keep these classes, relabelled 0..k-1: 5-9 or 0,2,4");
  sub->add_option("--per-class", flags->per_class, "Keep the first N training images of each class");
  sub->add_option("--validation", flags->validation, "Validation rows taken from the start of the training set")
      ->capture_default_str();
  sub->add_option("--epochs", flags->epochs, "Epochs")->capture_default_str();
  sub->add_option("--batch-size", flags->batch_size, "Mini-batch size")->capture_default_str();
  sub->add_option("--optimizer", flags->optimizer, "sgd, momentum, nesterov, adagrad, rmsprop, adam")
      ->capture_default_str();
  sub->add_option("--lr", flags->lr, "Learning rate")->capture_default_str()->check(finite_number());
  sub->add_option("--momentum", flags->momentum, "Momentum (momentum, nesterov)")->capture_default_str()->check(finite_number());
  auto* clip_value = sub->add_option("--clip-value", flags->clip_value, "Clip gradients to [-T, T]")->check(finite_number());
  auto* clip_norm = sub->add_option("--clip-norm", flags->clip_norm, "Clip gradients by global norm N")->check(finite_number());
  clip_value->excludes(clip_norm);
  sub->add_option("--lr-schedule", flags->lr_schedule,
                  "Learning rate as a function of the global step, TF1's formulas (recorded in the checkpoint, so "
                  "--resume continues it):\n" + lr_schedule_help())
      ->check([](const std::string& text) {
        try {
          parse_lr_schedule(text);
          return std::string();
        } catch (const Error& e) {
          return std::string(e.what());
        }
      });
  auto spec_check = [](auto parse) {
    return [parse](const std::string& text) {
      try {
        parse(text);
        return std::string();
      } catch (const Error& e) {
        return std::string(e.what());
      }
    };
  };
  sub->add_option("--l1", flags->l1, "L1 penalty on the kernels (S, LAYER=S,...). " + regularization_help())
      ->check(spec_check(parse_scale_spec));
  sub->add_option("--l2", flags->l2, "L2 penalty on the kernels, TF1's scale * sum(w^2) / 2 (see --l1)")
      ->check(spec_check(parse_scale_spec));
  sub->add_flag("--regularize-biases", flags->regularize_biases,
                "Penalize the biases of the --l1/--l2 layers too, with the kernels' scales (TF1's "
                "bias_regularizer; off by default, as in the book and Keras)");
  sub->add_option("--max-norm", flags->max_norm,
                  "Max-norm after every update: R (every trained kernel) or LAYER=R,... (the book's recipe: "
                  "hidden1=1,hidden2=1), optionally ,axis=A. tf.clip_by_norm(kernel, R, axes=A) on the [inputs, "
                  "outputs] kernel: axis=1 (default, the book's) limits each input unit's row of weights, axis=0 "
                  "each output unit's column (the axis of Keras's max_norm; graft keeps TF's formula "
                  "w * R / max(norm, R), without Keras's epsilon). Frozen kernels are not touched")
      ->check(spec_check(parse_max_norm_spec));
  sub->add_option("--save", flags->save, "Save a TF checkpoint at this prefix at the end (the best one with early stopping) and on SIGINT/SIGTERM");
  auto* save_every = sub->add_option(
      "--save-every", flags->save_every,
      "Also save PREFIX-<step> every N epochs (N or Nepochs) or N steps (Nsteps), keeping the newest --keep")
      ->needs(sub->get_option("--save"))
      ->check([](const std::string& text) {
        try {
          parse_save_every(text);
          return std::string();
        } catch (const Error& e) {
          return std::string(e.what());
        }
      });
  sub->add_option("--keep", flags->keep, "Numbered checkpoints to keep (like TF's max_to_keep; 0 = all)")
      ->capture_default_str()
      ->check(non_negative())
      ->needs(save_every);
  sub->add_option("--resume", flags->resume,
                  "Resume variables, optimizer slots and step from a checkpoint (also one saved on SIGINT/SIGTERM; a Keras "
                  "SavedModel: its network and weights, optimizer fresh)");
  sub->add_option("--early-stopping", flags->early_stopping,
                  "Stop after this many epochs without a lower validation loss; keep the best");
  sub->add_option("--seed", flags->seed, "Seed for initial values and shuffling")->capture_default_str();
  sub->add_option("--device", flags->device, "cpu, cuda or auto")->capture_default_str();
  sub->add_option("--threads", flags->threads, "CPU threads (default: all cores)")
      ->check(CLI::Range(0, max_cpu_threads()));
  // Transfer learning.
  auto* init_from = sub->add_option("--init-from", flags->init_from,
                                    "After initialising, restore variables from this TF checkpoint (TF1, TF2 or a SavedModel)");
  sub->get_option("--resume")->excludes(init_from);
  sub->add_option("--restore", flags->restore,
                  "Restore only model variables this regex selects (whole name or scope, e.g. 'hidden[123]'); repeatable")
      ->needs(init_from);
  sub->add_option("--rename", flags->renames,
                  "REGEX=REPLACEMENT mapping checkpoint names to model names, e.g. 'dnn/(.*)=$1'; repeatable, "
                  "first match wins")
      ->needs(init_from);
  sub->add_flag("--skip-mismatch", flags->skip_mismatch,
                "Keep the initial value of a variable whose checkpoint shape differs (instead of an error)")
      ->needs(init_from);
  sub->add_flag("--restore-slots", flags->restore_slots, "Also restore the optimizer slots of restored variables")
      ->needs(init_from);
  sub->add_option("--slot-set", flags->slot_set,
                  "With --restore-slots or --resume, when the checkpoint holds several optimizers' slots (the book's "
                  "VAR/Adam and VAR/Adam2): the slot set to restore, e.g. Adam2 (default: the one the .meta graph's "
                  "training op reads, else the first by name; the restore table says which and why)");
  sub->add_flag("--dry-run", flags->dry_run, "Print the restore table (and the cache decision), then stop")
      ->excludes("--resume");
  sub->add_option("--freeze", flags->freeze,
                  "Freeze the model variables this regex selects (no updates, no slots); repeatable");
  sub->add_option("--layer-names", flags->layer_names,
                  "Names of the layers, hidden then output (default hidden1..N,outputs)")
      ->delimiter(',')
      ->allow_extra_args(false);
  auto* no_cache = sub->add_flag("--no-cache", flags->no_cache, "Do not cache the outputs of frozen lowest layers");
  sub->add_option("--cache-limit", flags->cache_limit,
                  "Most memory for the frozen-layer cache, e.g. 2G or 512M (default: 25% of RAM, or half the free "
                  "GPU memory)")
      ->excludes(no_cache);
  auto* logdir = sub->add_option("--logdir", flags->logdir,
                                 "Write TensorBoard scalars (loss, accuracy, learning rate, examples/s) to an event "
                                 "file in DIR");
  sub->add_option("--log-every", flags->log_every, "Also log the training loss over every N steps (with --logdir)")
      ->needs(logdir)
      ->check(positive());
  sub->add_option("--metrics", flags->metrics, "Write one row per epoch to FILE.csv or FILE.jsonl")
      ->check([](const std::string& path) {
        return is_metrics_file_name(path) ? std::string() : "the metrics file must end in .csv or .jsonl: " + path;
      });
  sub->add_flag("--override", flags->override_checkpoint,
                "With --resume: train with the optimizer settings given (--optimizer, --lr, --momentum, --clip-*, "
                "--lr-schedule, --l1, --l2, --regularize-biases, --max-norm) "
                "instead of the recorded ones, and drop optimizer slots the new optimizer does not use")
      ->needs(sub->get_option("--resume"));
  sub->add_option("--batch-norm", flags->batch_norm,
                  "Batch norm after every hidden dense layer: before|after (the activation)[,momentum=M][,epsilon=E]"
                  "[,no-center][,no-scale]; defaults momentum 0.99, epsilon 0.001 (tf.layers)");
  sub->add_option("--dropout", flags->dropout,
                  "Dropout after every hidden layer: one RATE, or one per hidden layer (0.5,0.5,0); 0 = none");
  sub->add_flag("--frozen-batch-norm-updates", flags->frozen_bn_updates,
                "A frozen batch norm keeps updating its moving statistics in training (TF1); default: it runs in "
                "inference mode (Keras)");
  add_cuda_flags(*sub, flags->cuda);
  sub->callback([flags, sub] {
    for (const CLI::Option* o : sub->get_options()) {
      if (o->count() > 0) flags->given.insert(o->get_name());
    }
    run_guarded("train", [flags] { return run_train(*flags); });
  });
}

}  // namespace graft::cli
