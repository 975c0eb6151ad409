#include "host/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>

#include "checkpoint/error.h"
#include "checkpoint/slot_sets.h"
#include "host/model/model_io.h"
#include "host/train/train_regularization.h"
#include "host/train/divergence.h"
#include "host/train/memory_check.h"

namespace graft {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void add_totals(EpochTotals& into, const EpochTotals& t) {
  into.loss_sum += t.loss_sum;
  into.correct += t.correct;
  into.samples += t.samples;
}


// The slot names the model records (ModelDescription::slot_names, after a
// resume from several optimizers' slots) replace the table's defaults for
// the variables that are trained; a record of another optimizer's slots
// (the optimizer overridden) is dropped.
void use_recorded_slot_names(std::vector<ParameterSpec>& table, ModelDescription& model, OptimizerKind kind) {
  if (model.slot_names.empty()) return;
  const std::vector<std::string> suffixes = optimizer_slot_suffixes(kind);
  bool fits = !suffixes.empty();
  for (const auto& [variable, keys] : model.slot_names) {
    for (const SlotSet& s : find_slot_sets(keys)) fits = fits && s.kind == suffixes.front();
  }
  if (!fits) {
    model.slot_set.clear();
    model.slot_names.clear();
    return;
  }
  for (ParameterSpec& p : table) {
    const auto it = model.slot_names.find(p.name);
    if (it != model.slot_names.end() && it->second.size() == p.slot_names.size()) p.slot_names = it->second;
  }
}

}  // namespace

Trainer::Trainer(Backend& backend, ModelSpec spec, const OptimizerConfig& optimizer, const TrainOptions& options)
    : Trainer(backend, model_from_spec(spec, optimizer), options, spec) {}

Trainer::Trainer(Backend& backend, const ModelDescription& model, const TrainOptions& options)
    : Trainer(backend, model, options, spec_from_model(model)) {}

Trainer::Trainer(Backend& backend, const ModelDescription& model, const TrainOptions& options, ModelSpec spec)
    : backend_(backend), spec_(std::move(spec)), model_(model), options_(options) {
  if (!model_.optimizer) throw Error("the model description has no optimizer to train with (ModelDescription::optimizer)");
  optimizer_ = *model_.optimizer;
  spec_.validate();
  if (options_.batch_size <= 0) throw Error("the batch size must be positive");
  if (options_.epochs < 0) throw Error("the number of epochs must not be negative");
  if (options_.early_stopping_patience < 0) throw Error("the early-stopping patience must not be negative");
  if (options_.log_every < 0) throw Error("the step logging interval must not be negative");
  if (options_.keep < 0) throw Error("the number of checkpoints to keep must not be negative");
  if (options_.save_every.enabled() && options_.save_prefix.empty()) {
    throw Error("periodic checkpoints (" + options_.save_every.describe() + ") need a save prefix");
  }
  check_finite_hyperparameters(optimizer_);
  validate_lr_schedule(optimizer_.schedule);
  if (optimizer_.clip_value > 0 && optimizer_.clip_norm > 0) {
    throw Error("clip by value and clip by global norm are exclusive");
  }
  table_ = parameter_table(spec_, optimizer_.kind);
  use_recorded_slot_names(table_, model_, optimizer_.kind);
  check_training_memory(spec_.backend_shapes(), static_cast<int>(optimizer_slot_suffixes(optimizer_.kind).size()),
                        std::max(options_.batch_size, options_.eval_batch), backend_.memory());
  backend_.build(spec_.backend_shapes(), optimizer_, std::max(options_.batch_size, options_.eval_batch));
  // Dropout masks: a function of (seed, global step, node, row, column), so a
  // resumed run (whose step comes back with the optimizer scalars) continues
  // with the masks the uninterrupted run would have drawn.
  backend_.set_dropout_seed(options_.seed);
  apply_trainable(backend_, table_);
  set_model_regularization(backend_, model_, spec_.backend_shapes());
  initialize_parameters(backend_, table_, options_.seed);
}

StepPlan Trainer::step_plan(int first_layer) const {
  std::vector<bool> trainable(table_.size());
  for (const ParameterSpec& p : table_) trainable[static_cast<std::size_t>(p.index)] = p.trainable;
  return plan_step(parameter_layout(spec_.backend_shapes()), trainable, first_layer, optimizer_.clip_norm > 0);
}

ResumeReport Trainer::resume(const BundleReader& reader, const ResumeOptions& options) {
  ResumeOptions with_model = options;
  with_model.model = &model_;
  ResumeReport report = resume_from_checkpoint(backend_, reader, table_, optimizer_, with_model);
  // Scalars stored under other names (TF's train/beta1_power, a second
  // optimizer's beta1_power_1) keep them in every save of this run, and the
  // model records them for later resumes.
  for (const auto& [name, stored] : report.scalar_names) {
    if (stored != name) model_.scalar_names[name] = stored;
  }
  if (!report.slot_set.empty()) {
    model_.slot_set = report.slot_set;
    model_.slot_names = report.slot_names;
    for (ParameterSpec& p : table_) {
      const auto it = report.slot_names.find(p.name);
      if (it != report.slot_names.end()) p.slot_names = it->second;
    }
    std::vector<std::string> keys;
    for (const ResumeReport::KeptState& k : report.kept) keys.push_back(k.key);
    kept_ = read_kept_tensors(reader, keys);
  }
  return report;
}

float Trainer::learning_rate_used(int64_t step) const {
  return math::scheduled_lr(optimizer_.schedule, optimizer_.learning_rate, std::max<int64_t>(step - 1, 0));
}

void Trainer::reduce_on_plateau(double validation_loss) {
  const float lr = plateau_step(optimizer_.schedule, model_.plateau, validation_loss, optimizer_.learning_rate);
  if (lr == optimizer_.learning_rate) return;
  // From the next step on; recorded so a save (and its resume) carries it.
  optimizer_.learning_rate = lr;
  model_.optimizer->learning_rate = lr;
  backend_.set_learning_rate(lr);
}

EpochTotals Trainer::evaluate(const DeviceDataset& data, int first_layer) {
  return backend_.evaluate(data, first_layer);
}

void Trainer::save(const std::string& prefix) {
  save_checkpoint(prefix, backend_, table_, optimizer_, &model_, &kept_);
}

TrainResult Trainer::fit(const Dataset& data, const EpochCallback& on_epoch, const ProgressCallback& on_progress) {
  if (data.train.rows == 0) throw Error("no training rows");
  if (data.train.cols != spec_.inputs()) {
    throw Error("the data has " + std::to_string(data.train.cols) + " features, the model takes " +
                std::to_string(spec_.inputs()) + " inputs");
  }
  if (data.num_classes > spec_.outputs()) {
    throw Error("the data has " + std::to_string(data.num_classes) + " classes, the model only " +
                std::to_string(spec_.outputs()) + " outputs");
  }
  auto upload = [&](const DataSplit& s) -> std::unique_ptr<DeviceDataset> {
    if (s.rows == 0) return nullptr;
    return backend_.upload(s.features.data(), s.labels.data(), s.rows, s.cols);
  };
  const auto train = upload(data.train);
  const auto validation = upload(data.validation);
  const auto test = upload(data.test);
  TrainingData uploaded;
  uploaded.train = train.get();
  uploaded.validation = validation.get();
  uploaded.test = test.get();
  return fit(uploaded, on_epoch, on_progress);
}

TrainResult Trainer::fit(const TrainingData& data, const EpochCallback& on_epoch,
                         const ProgressCallback& on_progress) {
  if (!data.train || data.train->rows() == 0) throw Error("no training rows");
  const bool early_stopping = options_.early_stopping_patience > 0;
  if (early_stopping && !data.validation) throw Error("early stopping needs a validation set");
  const bool plateau = optimizer_.schedule.kind == math::LrScheduleKind::kPlateau;
  if (plateau && !data.validation) throw Error("the plateau learning-rate schedule needs a validation set");
  bool any_trainable = false;
  for (const ParameterSpec& p : table_) any_trainable = any_trainable || (p.trainable && p.layer >= data.first_layer);
  if (!any_trainable) throw Error("every parameter is frozen: nothing to train");

  const int64_t rows = data.train->rows();
  const int64_t batch = options_.batch_size;
  const int64_t batches = (rows + batch - 1) / batch;  // the last batch may be smaller
  const int num_slots = static_cast<int>(optimizer_slot_suffixes(optimizer_.kind).size());
  // A resumed run continues the sequence of shuffles instead of repeating it.
  const int64_t start_step = backend_.read_scalars().step;
  const uint64_t first_epoch = static_cast<uint64_t>(start_step / batches);
  // A run stopped mid-epoch resumes at its next batch: the epoch's row order
  // depends only on (seed, absolute epoch), so the remaining batches are the
  // ones the uninterrupted run would have seen.
  const int64_t skip_batches = start_step % batches;
  // Step windows (options_.log_every): the step is counted here, not read
  // back; the totals are taken once per window and once per epoch, and each
  // piece counts towards both the epoch and the window it belongs to.
  const bool log_steps = options_.log_every > 0 && static_cast<bool>(options_.on_steps);
  int64_t step = start_step;
  EpochTotals window;           // taken at epoch ends inside the current window
  int64_t window_steps = 0;
  double window_seconds = 0;    // training time only (evaluation excluded)

  TrainResult result;
  TrainingState best_state;
  double best_loss = std::numeric_limits<double>::infinity();
  int since_best = 0;
  backend_.take_train_totals();  // drop anything left from earlier calls

  // Every save but the early-stopping one goes through here: the state is
  // checked first, so a diverged state never replaces a good checkpoint.
  const SaveEvery& every = options_.save_every;
  std::string last_saved;
  int64_t last_saved_step = -1;
  auto checked_save = [&](const std::string& base, bool numbered) {
    if (numbered && last_saved_step == step) return last_saved;
    const TrainingState state = capture_state(backend_, table_, num_slots);
    const std::string bad = first_non_finite(state, table_);
    if (!bad.empty()) throw DivergenceError(step, std::nullopt, bad);
    const std::string prefix = numbered ? numbered_prefix(base, step) : base;
    save_checkpoint(prefix, state, table_, optimizer_, &model_, &kept_);
    if (numbered) {
      rotate_checkpoints(prefix, base, options_.keep);
      last_saved = prefix;
      last_saved_step = step;
    }
    return prefix;
  };

  for (int epoch = 1; epoch <= options_.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    auto window_start = start;
    EpochTotals epoch_taken;      // taken at window ends inside this epoch
    backend_.shuffle(*data.train, options_.seed, first_epoch + static_cast<uint64_t>(epoch - 1));
    for (int64_t b = epoch == 1 ? skip_batches : 0; b < batches; ++b) {
      if (options_.stop && options_.stop->load()) {
        result.interrupted = true;
        break;
      }
      const int64_t begin = b * batch;
      backend_.train_step(*data.train, begin, std::min(batch, rows - begin), data.first_layer);
      ++step;
      if (log_steps) ++window_steps;
      if (log_steps && step % options_.log_every == 0) {
        const EpochTotals t = backend_.take_train_totals();
        add_totals(epoch_taken, t);
        add_totals(window, t);
        StepReport s;
        s.epoch = epoch;
        s.step = step;
        s.steps = window_steps;
        s.train_loss = window.loss_sum / static_cast<double>(std::max<int64_t>(window.samples, 1));
        s.train_accuracy = static_cast<double>(window.correct) / static_cast<double>(std::max<int64_t>(window.samples, 1));
        s.examples = window.samples;
        s.seconds = window_seconds + seconds_since(window_start);
        s.learning_rate = learning_rate_used(step);
        options_.on_steps(s);
        window = EpochTotals{};
        window_steps = 0;
        window_seconds = 0;
        window_start = std::chrono::steady_clock::now();
      }
      if (on_progress) on_progress(epoch, b + 1, batches);
      if (every.enabled() && every.unit == SaveEvery::Unit::kSteps && step % every.count == 0) {
        checked_save(options_.save_prefix, true);
      }
    }
    if (result.interrupted) break;

    EpochReport report;
    report.epoch = epoch;
    const EpochTotals rest = backend_.take_train_totals();
    report.train_seconds = seconds_since(start);
    if (log_steps) {
      add_totals(window, rest);
      window_seconds += seconds_since(window_start);
    }
    EpochTotals train = epoch_taken;
    add_totals(train, rest);
    // Divergence: the epoch's loss and every parameter must be finite.
    const std::string non_finite = first_non_finite_parameter(backend_, table_);
    if (!std::isfinite(train.loss_sum) || !non_finite.empty()) {
      const double mean = train.loss_sum / static_cast<double>(std::max<int64_t>(train.samples, 1));
      throw DivergenceError(step, std::isfinite(mean) ? std::nullopt : std::optional<double>(mean), non_finite);
    }
    report.examples = train.samples;
    report.learning_rate = learning_rate_used(step);
    report.train_loss = train.loss_sum / static_cast<double>(std::max<int64_t>(train.samples, 1));
    report.train_accuracy = static_cast<double>(train.correct) / static_cast<double>(std::max<int64_t>(train.samples, 1));
    report.step = backend_.read_scalars().step;
    if (data.validation) {
      const EpochTotals v = backend_.evaluate(*data.validation, data.first_layer);
      report.validation_loss = v.loss_sum / static_cast<double>(v.samples);
      report.validation_accuracy = static_cast<double>(v.correct) / static_cast<double>(v.samples);
    }
    if (data.test) {
      const EpochTotals t = backend_.evaluate(*data.test, data.first_layer);
      report.test_loss = t.loss_sum / static_cast<double>(t.samples);
      report.test_accuracy = static_cast<double>(t.correct) / static_cast<double>(t.samples);
    }
    if (plateau) reduce_on_plateau(*report.validation_loss);
    if (early_stopping) {
      if (*report.validation_loss < best_loss) {
        best_loss = *report.validation_loss;
        best_state = capture_state(backend_, table_, num_slots);
        result.best_epoch = epoch;
        report.best = true;
        since_best = 0;
        // Saved as soon as it is found, so an interrupted run keeps it.
        if (!options_.save_prefix.empty()) save(options_.save_prefix);
      } else {
        ++since_best;
      }
    }
    report.seconds = seconds_since(start);
    result.epochs.push_back(report);
    if (on_epoch) on_epoch(report);
    if (every.enabled() && every.unit == SaveEvery::Unit::kEpochs &&
        (first_epoch + static_cast<uint64_t>(epoch)) % static_cast<uint64_t>(every.count) == 0) {
      checked_save(options_.save_prefix, true);
    }
    if (early_stopping && since_best >= options_.early_stopping_patience) {
      result.stopped_early = epoch < options_.epochs;
      break;
    }
  }

  // A signal during the last step or the evaluation still counts: the caller
  // was promised a checkpoint of where the run stopped.
  if (options_.stop && options_.stop->load()) result.interrupted = true;
  result.step = step;
  if (result.interrupted) {
    // The state where it stopped, for --resume. Numbered (PREFIX-<step>) with
    // periodic saves, and with early stopping, whose best state is at PREFIX.
    const bool has_prefix = !options_.save_prefix.empty();
    const std::string base = has_prefix ? options_.save_prefix : options_.interrupt_prefix;
    if (!base.empty()) result.saved_prefix = checked_save(base, has_prefix && (every.enabled() || early_stopping));
  } else if (early_stopping && result.best_epoch > 0) {
    restore_state(backend_, best_state);
    if (!options_.save_prefix.empty()) result.saved_prefix = options_.save_prefix;
  } else if (!options_.save_prefix.empty()) {
    result.saved_prefix = checked_save(options_.save_prefix, every.enabled());
  }
  return result;
}

}  // namespace graft
