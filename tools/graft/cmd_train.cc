// graft train: flags -> TrainOptions/ModelSpec/DatasetOptions, then the
// library's Trainer; prints one line per epoch (and a progress bar when
// stdout is a terminal). SIGINT/SIGTERM stop after the current step with a
// checkpoint and exit 130/143 (host/train/interrupt.h).
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/error.h"
#include "host/data/dataset.h"
#include "host/device_select.h"
#include "host/train/frozen_cache.h"
#include "host/model/initializers.h"
#include "host/train/interrupt.h"
#include "host/train/metrics_sinks.h"
#include "host/restore/rename_rules.h"
#include "host/model/model_io.h"
#include "host/train/resume_model.h"
#include "host/train/trainer.h"
#include "host/restore/transfer.h"
#include "tools/graft/commands.h"
#include "tools/graft/data_flags.h"

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
  std::string save;
  std::string save_every;  // N, Nepochs or Nsteps (host/train/checkpoint_rotation.h)
  int keep = 5;
  std::string resume;
  // Transfer learning (docs/transfer-learning.md).
  std::string init_from;
  std::vector<std::string> restore, renames, freeze, layer_names;
  bool skip_mismatch = false, restore_slots = false, dry_run = false, no_cache = false;
  std::string cache_limit;
  int early_stopping = 0;
  uint64_t seed = 42;
  std::string device = "auto";
  int threads = 0;
  std::string logdir;
  int64_t log_every = 0;
  std::string metrics;
  bool override_checkpoint = false;
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

OptimizerConfig optimizer_from(const TrainFlags& f) {
  OptimizerConfig c;
  const auto kind = parse_optimizer(f.optimizer);
  if (!kind) throw Error("unknown optimizer '" + f.optimizer + "' (sgd, momentum, nesterov, adagrad, rmsprop, adam)");
  c.kind = *kind;
  c.learning_rate = f.lr;
  c.momentum = f.momentum;
  c.clip_value = f.clip_value;
  c.clip_norm = f.clip_norm;
  return c;
}

FrozenCacheOptions cache_options(const TrainFlags& f) {
  FrozenCacheOptions o;
  o.enabled = !f.no_cache;
  if (!f.cache_limit.empty()) o.limit_bytes = parse_byte_size(f.cache_limit);
  return o;
}

// --init-from / --dry-run: prints where every variable comes from (and what
// the frozen-layer cache will do), restores. Returns true for a dry run.
bool restore_and_report(const TrainFlags& f, Trainer& trainer, const Dataset& data) {
  if (f.init_from.empty() && !f.dry_run) return false;
  if (f.init_from.empty()) {
    std::printf("%s", initial_plan(trainer.table()).table().c_str());
  } else {
    const BundleReader reader = BundleReader::open(f.init_from);
    if (!reader.resolution_note().empty()) std::printf("%s\n", reader.resolution_note().c_str());
    RestoreOptions options;
    options.restore = f.restore;
    options.renames = parse_rename_rules(f.renames);
    options.skip_mismatch = f.skip_mismatch;
    options.restore_slots = f.restore_slots;
    const RestorePlan plan = plan_restore(trainer.table(), reader, options);
    std::printf("%s", plan.table().c_str());
    if (!f.dry_run) apply_restore_plan(trainer.backend(), reader, trainer.table(), plan);
  }
  if (!f.dry_run) return false;
  const int64_t rows = data.train.rows + data.validation.rows + data.test.rows;
  const FrozenCacheDecision cache = decide_frozen_cache(trainer.spec(), rows, cache_options(f), trainer.backend().memory());
  if (!cache.note.empty()) std::printf("%s\n", cache.note.c_str());
  std::printf("dry run: nothing trained or saved\n");
  return true;
}

// The flag that sets each ModelRequest field (for messages).
const char* flag_of(const std::string& field) {
  static const std::map<std::string, const char*> flags = {
      {"hidden", "--hidden"},         {"outputs", "--outputs"},   {"activation", "--activation"},
      {"names", "--layer-names"},     {"classes", "--classes"},   {"frozen", "--freeze"},
      {"optimizer", "--optimizer"},   {"learning_rate", "--lr"},  {"momentum", "--momentum"},
      {"clip_value", "--clip-value"}, {"clip_norm", "--clip-norm"}};
  const auto it = flags.find(field);
  return it == flags.end() ? "?" : it->second;
}

// --data DIR: the IDX folder as before; --data FILE: a data file with its
// splits, whose rows per class are reported.
Dataset load_training_data(const TrainFlags& f, const DatasetOptions& selection,
                           const std::optional<ModelDescription>& recorded) {
  if (!is_data_file(f.data)) {
    check_folder_flags(f.data, f.data_flags);
    return load_dataset(selection);
  }
  if (f.given.count("--validation")) {
    throw Error("--validation N is for IDX folders; with --data FILE use --validation-split FRACTION or "
                "--validation-data FILE");
  }
  Dataset data = load_file_dataset(file_options(f.data, f.data_flags, selection, f.seed, recorded));
  std::printf("split (stratified per class, seed %llu):\n%s", static_cast<unsigned long long>(f.seed),
              data.split_report.c_str());
  return data;
}

// What the model must remember of its data: how raw values became inputs,
// and the class names.
void record_data_input(ModelDescription& model, const Dataset& data) {
  model.input.scale = data.input_scale;
  model.output.class_names = data.class_names;
}

// --resume of a checkpoint that records its model: the record is the model;
// the flags given are checked against it (host/train/resume_model.h).
ResolvedModel resumed_model(const TrainFlags& f, const ModelDescription& recorded, const std::string& prefix,
                            const Activation& activation, const OptimizerConfig& optimizer) {
  ModelRequest request;
  if (f.given.count("--hidden")) request.hidden = f.hidden;
  if (f.given.count("--outputs")) request.outputs = f.outputs;
  if (f.given.count("--activation")) request.activation = activation;
  if (f.given.count("--layer-names")) request.names = f.layer_names;
  if (f.given.count("--classes")) request.classes = parse_class_list(f.classes);
  if (f.given.count("--optimizer")) request.optimizer = optimizer.kind;
  if (f.given.count("--lr")) request.learning_rate = optimizer.learning_rate;
  if (f.given.count("--momentum")) request.momentum = optimizer.momentum;
  if (f.given.count("--clip-value")) request.clip_value = optimizer.clip_value;
  if (f.given.count("--clip-norm")) request.clip_norm = optimizer.clip_norm;
  if (f.given.count("--freeze")) {
    ModelSpec frozen = spec_from_model(recorded);
    for (LayerSpec& l : frozen.layers) l.kernel_trainable = l.bias_trainable = true;
    request.frozen = freeze_variables(frozen, f.freeze);
  }
  ResolvedModel r = resolve_resumed_model(recorded, request, f.override_checkpoint);
  if (!r.contradictions.empty()) {
    const Contradiction& c = r.contradictions.front();
    throw Error(fmt::format("{} {} contradicts the model recorded in {} ({} {}): leave {} out to resume the recorded "
                            "model{}",
                            flag_of(c.field), c.requested, prefix, c.field, c.recorded, flag_of(c.field),
                            c.optimizer ? ", or pass --override to train with the new value" : ""));
  }
  for (const Contradiction& c : r.overrides) {
    std::printf("override: %s %s instead of the recorded %s\n", c.field.c_str(), c.requested.c_str(),
                c.recorded.c_str());
  }
  return r;
}

int run_train(const TrainFlags& f) {
  const auto activation = parse_activation(f.activation);
  if (!activation) throw Error("unknown activation '" + f.activation + "'");
  const auto initializer = parse_initializer(f.initializer);
  if (!initializer) throw Error("unknown initializer '" + f.initializer + "' (glorot_uniform, he_normal, he_uniform)");
  const OptimizerConfig flag_optimizer = optimizer_from(f);

  // --resume: the checkpoint's own description of its model, when it has one.
  std::optional<BundleReader> resume_reader;
  std::optional<ModelDescription> recorded;
  if (!f.resume.empty()) {
    resume_reader.emplace(BundleReader::open(f.resume));
    if (!resume_reader->resolution_note().empty()) std::printf("%s\n", resume_reader->resolution_note().c_str());
    recorded = read_model_description(*resume_reader);
    if (recorded) {
      recorded = resumed_model(f, *recorded, resume_reader->prefix(), *activation, flag_optimizer).model;
      std::printf("resuming the model recorded in %s: %s\n", resume_reader->prefix().c_str(),
                  recorded->architecture().c_str());
    } else {
      std::printf("%s records no model description (written by TensorFlow or an older graft): the model comes "
                  "from the flags\n",
                  resume_reader->prefix().c_str());
    }
  }
  const OptimizerConfig optimizer = recorded ? *recorded->optimizer : flag_optimizer;

  DatasetOptions data_options;
  data_options.dir = f.data;
  if (recorded) {
    // The recorded head's classes, in output order (relabelled as in training).
    const std::vector<int> classes = trained_classes(*recorded);
    bool identity = true;
    for (std::size_t i = 0; i < classes.size(); ++i) identity = identity && classes[i] == static_cast<int>(i);
    if (!identity) data_options.classes = classes;
  } else if (!f.classes.empty()) {
    data_options.classes = parse_class_list(f.classes);
  }
  data_options.per_class = f.per_class;
  data_options.validation = f.validation;
  const Dataset data = load_training_data(f, data_options, recorded);
  std::printf("data: %s: %s\n", f.data.c_str(), data.describe().c_str());

  SelectedBackend selected = select_backend(f.device, f.threads);
  std::printf("%s\n", selected.note.c_str());

  ModelDescription model;
  if (recorded) {
    model = *recorded;
    if (model.input.features != data.train.cols) {
      throw Error(fmt::format("the model recorded in {} takes {} features, the data in {} has {}",
                              resume_reader->prefix(), model.input.features, f.data, data.train.cols));
    }
  } else {
    const int64_t outputs = f.outputs > 0 ? f.outputs : data.num_classes;
    ModelSpec spec = make_mlp_spec(data.train.cols, f.hidden, outputs, *activation, *initializer);
    if (!f.layer_names.empty()) set_layer_names(spec, f.layer_names);
    freeze_variables(spec, f.freeze);
    // Output i stands for original label original_labels[i]; outputs beyond
    // the data's classes stand for none.
    std::vector<int> labels = data.original_labels;
    if (data_options.classes.empty()) {
      for (int64_t i = static_cast<int64_t>(labels.size()); i < outputs; ++i) labels.push_back(static_cast<int>(i));
    }
    labels.resize(static_cast<std::size_t>(outputs), kNoClass);
    model = model_from_spec(spec, optimizer, labels);
    record_data_input(model, data);
  }
  TrainOptions options;
  options.epochs = f.epochs;
  options.batch_size = f.batch_size;
  options.seed = f.seed;
  options.early_stopping_patience = f.early_stopping;
  options.save_prefix = f.save;
  options.stop = InterruptGuard::flag();  // SIGINT/SIGTERM: finish the step, save, exit 130/143
  options.interrupt_prefix = kInterruptPrefix;
  if (!f.save_every.empty()) options.save_every = parse_save_every(f.save_every);
  options.keep = f.keep;
  MetricsLogger metrics;  // its sinks are added below; the callbacks see them
  if (f.log_every > 0) {
    options.log_every = f.log_every;
    options.on_steps = metrics.step_callback();
  }
  Trainer trainer(*selected.backend, model, options);
  const ModelSpec& spec = trainer.spec();

  std::string clip;
  if (optimizer.clip_value > 0) clip = fmt::format(", clip value {}", optimizer.clip_value);
  if (optimizer.clip_norm > 0) clip = fmt::format(", clip norm {}", optimizer.clip_norm);
  std::printf("model: %s, %s lr %g%s, batch %lld\n", spec.describe().c_str(), optimizer_name(optimizer.kind).c_str(),
              static_cast<double>(optimizer.learning_rate), clip.c_str(), static_cast<long long>(f.batch_size));
  if (resume_reader) {
    const ResumeReport report = trainer.resume(*resume_reader);
    if (!report.unused_slots.empty() && !f.override_checkpoint) {
      throw Error(fmt::format("{} holds {} optimizer slots that {} does not use ({}{}): resume with the optimizer "
                              "that wrote them, or pass --override to drop them",
                              resume_reader->prefix(), report.unused_slots.size(), optimizer_name(optimizer.kind),
                              report.unused_slots.front(), report.unused_slots.size() > 1 ? ", ..." : ""));
    }
    std::printf("%s: %s\n", resume_reader->prefix().c_str(), report.describe().c_str());
    std::printf("%s\n", report.resumed().c_str());
  }
  if (restore_and_report(f, trainer, data)) return 0;
  std::fflush(stdout);

  if (!f.logdir.empty()) {
    const std::string events = metrics.add_tensorboard(f.logdir);
    std::printf("tensorboard: %s (view with: tensorboard --logdir %s)\n", events.c_str(), f.logdir.c_str());
  }
  if (!f.metrics.empty()) {
    metrics.add_file(f.metrics);
    std::printf("metrics: %s\n", f.metrics.c_str());
  }
  std::fflush(stdout);

  // Uploads the data; caches the frozen layers' outputs when it can.
  const PreparedData prepared = prepare_training_data(*selected.backend, trainer.spec(), data, cache_options(f));
  if (!prepared.cache.note.empty()) std::printf("%s\n", prepared.cache.note.c_str());
  std::fflush(stdout);

  ProgressBar bar(::isatty(STDOUT_FILENO) != 0);
  InterruptGuard interrupts;  // until the end: a signal during the final save is deferred too
  interrupts.hold();          // and then ignored until the process exits
  const int64_t stop_after = test_stop_after_steps();
  int64_t steps_run = 0;
  const TrainResult result = trainer.fit(
      prepared.view(),
      metrics.epoch_callback([&](const EpochReport& r) {
        bar.clear();
        std::printf("epoch %3d  loss %.4f  train acc %.4f  valid acc %s  test acc %s  (%.1f s)%s\n", r.epoch,
                    r.train_loss, r.train_accuracy, accuracy_text(r.validation_accuracy).c_str(),
                    accuracy_text(r.test_accuracy).c_str(), r.seconds, r.best ? "  best" : "");
        std::fflush(stdout);
      }),
      [&](int epoch, int64_t batch, int64_t batches) {
        bar.update(epoch, batch, batches);
        if (++steps_run == stop_after) std::raise(SIGINT);  // GRAFT_TEST_STOP_AFTER_STEPS
      });
  bar.clear();

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
                  "relu, elu, selu, leaky_relu[:ALPHA], tanh, sigmoid, identity")->capture_default_str();
  sub->add_option("--initializer", flags->initializer, "glorot_uniform, he_normal, he_uniform")->capture_default_str();
  sub->add_option("--data", flags->data,
                  "Folder with the four IDX files (optionally .gz), or a data file: .npy (with --labels), .npz, CSV, IDX")
      ->capture_default_str();
  add_data_flags(sub, flags->data_flags, DataUse::kTrain);
  sub->add_option("--classes", flags->classes, "Keep these classes, relabelled 0..k-1: 5-9 or 0,2,4");
  sub->add_option("--per-class", flags->per_class, "Keep the first N training images of each class");
  sub->add_option("--validation", flags->validation, "Validation rows taken from the start of the training set")
      ->capture_default_str();
  sub->add_option("--epochs", flags->epochs, "Epochs")->capture_default_str();
  sub->add_option("--batch-size", flags->batch_size, "Mini-batch size")->capture_default_str();
  sub->add_option("--optimizer", flags->optimizer, "sgd, momentum, nesterov, adagrad, rmsprop, adam")
      ->capture_default_str();
  sub->add_option("--lr", flags->lr, "Learning rate")->capture_default_str();
  sub->add_option("--momentum", flags->momentum, "Momentum (momentum, nesterov)")->capture_default_str();
  auto* clip_value = sub->add_option("--clip-value", flags->clip_value, "Clip gradients to [-T, T]");
  auto* clip_norm = sub->add_option("--clip-norm", flags->clip_norm, "Clip gradients by global norm N");
  clip_value->excludes(clip_norm);
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
      ->check(CLI::NonNegativeNumber)
      ->needs(save_every);
  sub->add_option("--resume", flags->resume,
                  "Resume variables, optimizer slots and step from a checkpoint (also one saved on SIGINT/SIGTERM)");
  sub->add_option("--early-stopping", flags->early_stopping,
                  "Stop after this many epochs without a lower validation loss; keep the best");
  sub->add_option("--seed", flags->seed, "Seed for initial values and shuffling")->capture_default_str();
  sub->add_option("--device", flags->device, "cpu, cuda or auto")->capture_default_str();
  sub->add_option("--threads", flags->threads, "CPU threads (default: all cores)");
  // Transfer learning.
  auto* init_from = sub->add_option("--init-from", flags->init_from,
                                    "After initialising, restore variables from this TF checkpoint (TF1 or TF2)");
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
      ->check(CLI::PositiveNumber);
  sub->add_option("--metrics", flags->metrics, "Write one row per epoch to FILE.csv or FILE.jsonl")
      ->check([](const std::string& path) {
        return is_metrics_file_name(path) ? std::string() : "the metrics file must end in .csv or .jsonl: " + path;
      });
  sub->add_flag("--override", flags->override_checkpoint,
                "With --resume: train with the optimizer settings given (--optimizer, --lr, --momentum, --clip-*) "
                "instead of the recorded ones, and drop optimizer slots the new optimizer does not use")
      ->needs(sub->get_option("--resume"));
  sub->callback([flags, sub] {
    for (const CLI::Option* o : sub->get_options()) {
      if (o->count() > 0) flags->given.insert(o->get_name());
    }
    run_guarded("train", [flags] { return run_train(*flags); });
  });
}

}  // namespace graft::cli
