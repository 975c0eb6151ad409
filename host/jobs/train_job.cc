// Over 500 lines: the train job decides where the model comes from (a fresh
// request, graft's record, a TensorFlow graph, a Keras SavedModel) and checks
// every flag against that source in one place, so each contradiction is
// refused with both values before anything is trained; the pieces that stand
// alone are already elsewhere (host/train/saved_model_resume, resume_model,
// host/restore/*). Next split: the source checks into their own file.
#include "host/jobs/train_job.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <memory>

#include "checkpoint/error.h"
#include "host/data/overlap.h"
#include "host/data/standardize.h"
#include "host/device_select.h"
#include "checkpoint/saved_model.h"
#include "host/model/model_io.h"
#include "host/restore/tensorflow_model.h"
#include "host/restore/restored_activations.h"
#include "host/restore/slot_set_choice.h"
#include "host/restore/transfer.h"
#include "host/train/metrics_sinks.h"
#include "host/train/saved_model_resume.h"

namespace graft {
namespace {

// job.data.dir, or job.data_file with the selection of `selection` (the
// recorded classes on resume) and the recorded input; its split is reported.
template <typename Say>
Dataset load_job_data(const TrainJob& job, const DatasetOptions& selection,
                      const std::optional<ModelDescription>& recorded, const Say& say) {
  if (!job.data_file) {
    DatasetOptions o = selection;
    if (recorded) o.scale = idx_pixel_scale(recorded->input);  // a graph's own scaling of its input
    return load_dataset(o);
  }
  FileDatasetOptions o = *job.data_file;
  o.classes = selection.classes;
  o.relabel_to = selection.relabel_to;
  o.per_class = selection.per_class;
  o.load_train = true;
  if (recorded) {
    if (o.scale && !recorded->input.read_from.empty()) {
      throw Error(fmt::format("an input scale of {} contradicts the {}, which transforms its input itself ({}): "
                              "leave it out",
                              *o.scale, recorded->input.read_from, input_transform_text(recorded->input)));
    }
    if (o.scale) throw Error("an input scale contradicts the model recorded in the resumed checkpoint: leave it out");
    o.input = recorded->input;
    o.file.csv.class_names = recorded->output.class_names;
  }
  Dataset data = load_file_dataset(o);
  std::string report = data.split_report;
  if (!report.empty() && report.back() == '\n') report.pop_back();
  say(fmt::format("split (stratified per class, seed {}):\n{}", o.split.seed, report));
  return data;
}

// A graph's network in words for a contradiction: its architecture and
// each batch norm's and dropout's placement and attributes.
std::string graph_layers_text(const ModelDescription& m) {
  std::string text = m.architecture();
  for (std::size_t i = 0; i < m.nodes.size(); ++i) {
    const ModelNode& n = m.nodes[i];
    if (n.kind == NodeKind::kBatchNorm) {
      const bool before = n.activation.kind != ActivationKind::kIdentity;
      text += fmt::format("; {}: batch norm {}, momentum {:.6g}, epsilon {:.6g}{}{}", n.name,
                          before ? "before the activation" : "after the activation (or with none)", n.batch_norm.momentum,
                          n.batch_norm.epsilon, n.batch_norm.scale ? "" : ", no-scale",
                          n.batch_norm.center ? "" : ", no-center");
    } else if (n.kind == NodeKind::kDropout) {
      text += fmt::format("; {}: dropout {:.6g}", n.name, n.rate);
    }
  }
  if (text == m.architecture()) text += " (no batch norm, no dropout)";
  return text;
}

class Job {
 public:
  Job(const TrainJob& job, const TrainJobCallbacks& callbacks) : job_(job), cb_(callbacks) {}

  TrainJobResult run();

 private:
  FreezeOptions freeze_options() const {
    FreezeOptions o;
    o.frozen_batch_norm_updates_statistics = job_.frozen_batch_norm_updates_statistics;
    return o;
  }
  void say(const std::string& line) const {
    if (cb_.say) cb_.say(line);
  }
  std::string name(const std::string& field) const {
    return cb_.option_name ? cb_.option_name(field) : "model." + field;
  }
  OptimizerConfig requested_optimizer() const;
  // `model` with the request's regularizers on top of its own.
  ModelDescription apply_regularization(ModelDescription model) const;
  ModelDescription resolve_recorded(const ModelDescription& recorded, const std::string& where) const;
  std::optional<ModelDescription> resolve_graph(const BundleReader& reader, const OptimizerConfig& requested,
                                                std::string& what, std::map<std::string, std::string>& keys) const;
  ModelDescription fresh_model(const Dataset& data, const OptimizerConfig& optimizer) const;
  void resume(Trainer& trainer, const BundleReader& reader) const;
  std::optional<Standardization> standardize_data(Dataset& data, const std::optional<ModelDescription>& recorded) const;
  bool restore_and_report(Trainer& trainer, const Dataset& data) const;
  void check_restored_activations(const ModelSpec& spec, const ModelInput& input, const RestorePlan& plan,
                                  const BundleReader& reader) const;

  const TrainJob& job_;
  const TrainJobCallbacks& cb_;
};

OptimizerConfig Job::requested_optimizer() const {
  OptimizerConfig o;
  const ModelRequest& m = job_.model;
  if (m.optimizer) o.kind = *m.optimizer;
  if (m.learning_rate) o.learning_rate = *m.learning_rate;
  if (m.momentum) o.momentum = *m.momentum;
  if (m.clip_value) o.clip_value = *m.clip_value;
  if (m.clip_norm) o.clip_norm = *m.clip_norm;
  if (m.lr_schedule) {
    o.schedule = *m.lr_schedule;
    // tf.train.piecewise_constant's values are the rate itself.
    if (o.schedule.kind == math::LrScheduleKind::kPiecewise) {
      if (m.learning_rate) {
        throw Error(name("learning_rate") + " and the piecewise schedule's values both give the learning rate: leave " +
                    name("learning_rate") + " out");
      }
      o.learning_rate = o.schedule.values[0];
    }
  }
  return o;
}

ModelDescription Job::apply_regularization(ModelDescription model) const {
  std::vector<NodeRegularizer> had;
  std::vector<std::string> names;
  for (const ModelNode& n : model.nodes) had.push_back(n.regularizer), names.push_back(n.name);
  const std::vector<NodeRegularizer> want =
      apply_regularization_request(had, names, job_.model.regularization, [this](const std::string& f) { return name(f); });
  for (std::size_t i = 0; i < want.size(); ++i) model.nodes[i].regularizer = want[i];
  return model;
}

// --resume of a checkpoint that records its model: the record is the model;
// the request is checked against it (host/train/resume_model.h). `where`
// names the record: "the model recorded in P", "the graph P.meta".
ModelDescription Job::resolve_recorded(const ModelDescription& recorded, const std::string& where) const {
  ModelRequest request = job_.model;
  if (!job_.layer_names.empty()) request.names = job_.layer_names;
  if (!job_.data.classes.empty()) request.classes = job_.data.classes;
  if (!job_.freeze.empty()) {
    ModelSpec all_trainable = spec_from_model(recorded);
    for (LayerSpec& l : all_trainable.layers) {
      l.kernel_trainable = l.bias_trainable = true;
      l.gamma_trainable = l.beta_trainable = l.statistics_trainable = true;
    }
    request.frozen = freeze_variables(all_trainable, job_.freeze, freeze_options());
  }
  apply_regularization(recorded);  // a layer the request names that the record lacks: named by its option
  const ResolvedModel r = resolve_resumed_model(recorded, request, job_.override_recorded);
  if (!r.contradictions.empty()) {
    const Contradiction& c = r.contradictions.front();
    throw Error(fmt::format("{} {} contradicts {} ({} {}): leave {} out to resume the recorded "
                            "model{}",
                            name(c.field), c.requested, where, c.field, c.recorded, name(c.field),
                            c.optimizer ? ", or pass " + name("override_recorded") + " to train with the new value"
                                        : std::string()));
  }
  for (const Contradiction& c : r.overrides) {
    say(fmt::format("override: {} {} instead of the recorded {}", c.field, c.requested, c.recorded));
  }
  return r.model;
}

// --resume of a TensorFlow checkpoint without a record whose graph
// (PREFIX.meta) defines its network: the graph is the architecture, checked
// against the request like a record. The optimizer and its hyper-parameters
// are in neither the graph's network nor the variables: they are the
// request's, and the resume then checks that they use the checkpoint's slots.
//
// A Keras SavedModel's network (keras_metadata.pb) keeps its variables under
// TF2 object keys (variables/0/.ATTRIBUTES/VARIABLE_VALUE): its nodes get
// graft's names (dense/kernel), `keys` maps each to the key it is read from.
std::optional<ModelDescription> Job::resolve_graph(const BundleReader& reader, const OptimizerConfig& requested,
                                                   std::string& what, std::map<std::string, std::string>& keys) const {
  std::optional<TensorFlowModel> tf = tensorflow_model(reader);
  if (!tf) return std::nullopt;
  what = tf->what();
  std::optional<ModelDescription> graph = std::move(tf->model);
  if (tf->keras) keys = adopt_saved_model_variables(*graph);
  graph->optimizer = requested;
  // Nor are the regularizers (graft reads no loss from the graph): the request's too.
  *graph = apply_regularization(*graph);
  // The graph does not say which class each output stands for: the
  // request's classes, when they fit the head, are what it was trained on.
  if (!job_.data.classes.empty() && job_.data.classes.size() == graph->output.labels.size()) {
    graph->output.labels = job_.data.classes;
  }
  ModelDescription model = resolve_recorded(*graph, tf->where());
  model.source = tf->what() + " (resumed by graft)";
  return model;
}

ModelDescription Job::fresh_model(const Dataset& data, const OptimizerConfig& optimizer) const {
  const ModelRequest& m = job_.model;
  const std::vector<int64_t> hidden = m.hidden ? *m.hidden : std::vector<int64_t>(std::begin(kDefaultHidden),
                                                                                  std::end(kDefaultHidden));
  const int64_t outputs = m.outputs && *m.outputs > 0 ? *m.outputs : data.num_classes;
  ModelSpec spec = make_mlp_spec(data.train.cols, hidden, outputs, m.activation.value_or(Activation{}),
                                 job_.initializer);
  for (LayerSpec& l : spec.layers) l.variance_scaling = job_.variance_scaling;
  if (!job_.layer_names.empty()) set_layer_names(spec, job_.layer_names);
  if (m.names) set_layer_names(spec, *m.names);
  if (m.layer_activations) {
    std::vector<std::string> hidden_names;
    for (std::size_t l = 0; l + 1 < spec.layers.size(); ++l) hidden_names.push_back(spec.layers[l].name);
    const std::vector<Activation> each =
        resolve_layer_activations(*m.layer_activations, hidden_names, m.activation.value_or(Activation{}));
    for (std::size_t l = 0; l < each.size(); ++l) spec.layers[l].activation = each[l];
  }
  // Batch norm and dropout join after the per-layer activations are set: a
  // batch norm before the activation takes its layer's.
  if (job_.batch_norm) add_batch_norm(spec, job_.batch_norm->before_activation, job_.batch_norm->attrs);
  if (!job_.dropout.empty()) add_dropout(spec, job_.dropout);
  freeze_variables(spec, job_.freeze, freeze_options());
  // Output i stands for original label original_labels[i]; outputs beyond
  // the data's classes stand for none.
  std::vector<int> labels = data.original_labels;
  if (job_.data.classes.empty()) {
    for (int64_t i = static_cast<int64_t>(labels.size()); i < outputs; ++i) labels.push_back(static_cast<int>(i));
  }
  labels.resize(static_cast<std::size_t>(outputs), kNoClass);
  ModelDescription model = apply_regularization(model_from_spec(spec, optimizer, labels));
  // What the model must remember of its data: how raw values became
  // inputs, and the class names.
  model.input.scale = data.input_scale;
  model.output.class_names = data.class_names;
  model.output.label_column = data.label_column == "label" ? "" : data.label_column;
  return model;
}

// Standardizes every split in place: with the recorded mean/stddev on
// resume (a data file got them from load_job_data already), else fitted on
// the training rows or read from a file. The values for a fresh model.
std::optional<Standardization> Job::standardize_data(Dataset& data,
                                                     const std::optional<ModelDescription>& recorded) const {
  const bool asked = job_.standardize || !job_.standardize_from.empty();
  if (job_.standardize && !job_.standardize_from.empty()) {
    throw Error(name("standardize") + " and " + name("standardize_from") + " are exclusive: fit on the training rows, "
                "or read the mean/stddev from a file");
  }
  if (recorded) {
    if (asked && !recorded->input.read_from.empty()) {
      throw Error(fmt::format("{} contradicts the {}, which transforms its input itself ({}): leave it out to "
                              "resume the graph's model",
                              name(job_.standardize ? "standardize" : "standardize_from"), recorded->input.read_from,
                              input_transform_text(recorded->input)));
    }
    if (asked) {
      throw Error(name(job_.standardize ? "standardize" : "standardize_from") + " with --resume: the recorded model's "
                  "input standardization is used; leave it out");
    }
    if (!recorded->input.mean.empty() && !job_.data_file) {
      for (DataSplit* s : {&data.train, &data.validation, &data.test}) {
        apply_standardization(*s, recorded->input.mean, recorded->input.stddev);
      }
      say("input: standardized per feature with the recorded mean/stddev");
    }
    return std::nullopt;
  }
  if (!asked) return std::nullopt;
  Standardization st = job_.standardize ? fit_standardization(data.train)
                                        : read_standardization_file(job_.standardize_from, data.train.cols);
  for (DataSplit* s : {&data.train, &data.validation, &data.test}) apply_standardization(*s, st.mean, st.stddev);
  if (job_.standardize) {
    say(fmt::format("input: standardized per feature with the mean/stddev of the {} training rows (not the "
                    "validation or test rows){}",
                    data.train.rows,
                    st.constant_features > 0
                        ? fmt::format("; {} features are constant there and get stddev 1, as sklearn's StandardScaler",
                                      st.constant_features)
                        : std::string()));
  } else {
    say("input: standardized per feature with the mean/stddev of " + job_.standardize_from);
  }
  return st;
}

void Job::resume(Trainer& trainer, const BundleReader& reader) const {
  check_slot_set_name(find_slot_sets(reader), trainer.optimizer().kind, job_.resume_options.slot_set,
                      name("slot_set"), reader.prefix());
  const ResumeReport report = trainer.resume(reader, job_.resume_options);
  if (!report.unused_slots.empty() && !job_.override_recorded) {
    throw Error(fmt::format("{} holds {} optimizer slots that {} does not use ({}{}): resume with the optimizer that "
                            "wrote them, or pass {} to drop them",
                            reader.prefix(), report.unused_slots.size(), optimizer_name(trainer.optimizer().kind),
                            report.unused_slots.front(), report.unused_slots.size() > 1 ? ", ..." : "",
                            name("override_recorded")));
  }
  say(reader.prefix() + ": " + report.describe());
  say(report.resumed());
  if (const std::string note = report.slot_set_note(); !note.empty()) say(note);
}

// A restored layer whose source ran it with another activation (the
// source's record or TensorFlow graph says which): an error unless the
// activation was asked for explicitly, then said.
void Job::check_restored_activations(const ModelSpec& spec, const ModelInput& input, const RestorePlan& plan,
                                     const BundleReader& reader) const {
  std::optional<ModelDescription> source = read_model_description(reader);
  std::string where = "the model recorded in " + reader.prefix();
  if (!source) {
    try {
      std::optional<TensorFlowModel> tf = tensorflow_model(reader);
      if (tf) {
        where = tf->where();
        source = std::move(tf->model);
      }
    } catch (const Error& e) {
      say(std::string("activations of the restored layers not checked: ") + e.what());
      return;
    }
  }
  if (!source) return;
  // The first layer restored from a graph that transforms its own input
  // learned from that input: said when this model feeds it another.
  const ModelInput& from = source->input;
  const auto first = std::find_if(plan.variables.begin(), plan.variables.end(), [&](const PlannedVariable& v) {
    return !spec.layers.empty() && v.name == spec.layers.front().name + "/kernel";
  });
  if (!from.read_from.empty() && first != plan.variables.end() && first->source == VariableSource::kRestored &&
      (from.scale != input.scale || from.mean != input.mean || from.stddev != input.stddev)) {
    say(fmt::format("note: {} is restored from {}, whose {} feeds it {}; this model feeds it {}: the restored "
                    "features see other inputs than they learned from",
                    spec.layers.front().name, first->checkpoint_key, from.read_from, input_transform_text(from),
                    input_transform_text(input)));
  }
  const std::vector<ActivationMismatch> mismatches = restored_activation_mismatches(spec, plan, *source);
  if (mismatches.empty()) return;
  const bool asked = job_.model.activation.has_value() || job_.model.layer_activations.has_value();
  for (const ActivationMismatch& m : mismatches) {
    if (!asked) {
      throw Error(fmt::format("{} is restored from {}, which {} runs with {}; the model gives it {} (the default): "
                              "pass {} {} to keep the features it learned, or name {} to train it so",
                              m.layer, m.source_layer, where, activation_name(m.source), activation_name(m.model),
                              name("activation"), activation_name(m.source), activation_name(m.model)));
    }
    say(fmt::format("note: {} is restored from {}, which {} runs with {}; it runs with {}, as asked", m.layer,
                    m.source_layer, where, activation_name(m.source), activation_name(m.model)));
  }
}

// init_from / dry_run: reports where every variable comes from (and what the
// frozen-layer cache and the step will do), restores. True for a dry run.
bool Job::restore_and_report(Trainer& trainer, const Dataset& data) const {
  if (job_.init_from.empty() && !job_.dry_run) return false;
  std::string table;
  if (job_.init_from.empty()) {
    table = initial_plan(trainer.table()).table();
  } else {
    const BundleReader reader = BundleReader::open(job_.init_from);
    if (!reader.resolution_note().empty()) say(reader.resolution_note());
    if (!job_.restore.slot_set.empty() && !job_.restore.restore_slots) {
      throw Error(name("slot_set") + " chooses which optimizer's slots " + name("restore_slots") +
                  " restores: pass " + name("restore_slots") + " too");
    }
    if (job_.restore.restore_slots) {
      check_slot_set_name(find_slot_sets(reader), trainer.optimizer().kind, job_.restore.slot_set,
                          name("slot_set"), reader.prefix());
    }
    const RestorePlan plan = plan_restore(trainer.table(), reader, job_.restore);
    check_restored_activations(trainer.spec(), trainer.model().input, plan, reader);
    table = plan.table();
    if (!job_.dry_run) apply_restore_plan(trainer.backend(), reader, trainer.table(), plan);
  }
  if (!table.empty() && table.back() == '\n') table.pop_back();
  say(table);
  if (!job_.dry_run) return false;
  const int64_t rows = data.train.rows + data.validation.rows + data.test.rows;
  const FrozenCacheDecision cache = decide_frozen_cache(trainer.spec(), rows, job_.cache, trainer.backend().memory());
  if (!cache.note.empty()) say(cache.note);
  std::vector<std::string> names;
  for (const LayerSpec& l : trainer.spec().layers) names.push_back(l.name);
  std::string plan = trainer.step_plan(cache.first_layer).describe(names);
  plan.pop_back();
  say(plan);
  say("dry run: nothing trained or saved");
  return true;
}

TrainJobResult Job::run() {
  TrainJobResult out;
  // A SavedModel is input only: refused before anything is trained.
  if (!job_.train.save_prefix.empty()) refuse_saving_into_saved_model(job_.train.save_prefix, name("save"));
  if (!job_.train.interrupt_prefix.empty()) {
    refuse_saving_into_saved_model(job_.train.interrupt_prefix, "the interrupt checkpoint");
  }
  const OptimizerConfig requested = requested_optimizer();

  // Resume: the checkpoint's own description of its model, when it has one.
  std::optional<BundleReader> resume_reader;
  std::optional<ModelDescription> recorded;
  std::map<std::string, std::string> saved_model_keys;  // a Keras SavedModel's: graft's name -> its key
  if (!job_.resume.empty()) {
    resume_reader.emplace(BundleReader::open(job_.resume));
    if (!resume_reader->resolution_note().empty()) say(resume_reader->resolution_note());
    recorded = read_model_description(*resume_reader);
    if (recorded && (job_.batch_norm || !job_.dropout.empty())) {
      throw Error(fmt::format("{} contradicts the model recorded in {} ({}): leave it out to resume the recorded model",
                              name(job_.batch_norm ? "batch_norm" : "dropout"), resume_reader->prefix(),
                              recorded->architecture()));
    }
    if (recorded) {
      recorded = resolve_recorded(*recorded, "the model recorded in " + resume_reader->prefix());
      say("resuming the model recorded in " + resume_reader->prefix() + ": " + recorded->architecture());
    } else if (std::string what; (recorded = resolve_graph(*resume_reader, requested, what, saved_model_keys))) {
      if (job_.batch_norm || !job_.dropout.empty()) {
        const std::string asked =
            job_.batch_norm
                ? fmt::format("{} {} (momentum {:.6g}, epsilon {:.6g})", name("batch_norm"),
                              job_.batch_norm->before_activation ? "before" : "after",
                              job_.batch_norm->attrs.momentum, job_.batch_norm->attrs.epsilon)
                : fmt::format("{} {}", name("dropout"), fmt::join(job_.dropout, ","));
        throw Error(fmt::format("{} contradicts the {}, whose network is {}: leave it out to resume the "
                                "graph's model",
                                asked, what, graph_layers_text(*recorded)));
      }
      say("resuming the network the " + what + " defines: " +
          recorded->architecture() + "; the optimizer and its hyper-parameters are the request's (" +
          optimizer_name(requested.kind) + ", lr " + fmt::format("{}", requested.learning_rate) +
          "): neither the graph's network nor the variables record them");
    } else {
      say(resume_reader->prefix() + " records no model description and has " + no_tensorflow_model(*resume_reader) +
          ": the model comes from the request");
    }
  }
  const OptimizerConfig optimizer = recorded ? *recorded->optimizer : requested;

  DatasetOptions data_options = job_.data;
  std::vector<int> recorded_classes;
  bool identity = true;
  if (recorded) {
    // The recorded head's classes, in output order (relabelled as in training).
    recorded_classes = trained_classes(*recorded);
    for (std::size_t i = 0; i < recorded_classes.size(); ++i) {
      identity = identity && recorded_classes[i] == static_cast<int>(i);
    }
    data_options.classes = identity ? std::vector<int>{} : recorded_classes;
  }
  const auto say_line = [this](const std::string& l) { say(l); };
  // keras_metadata.pb records no input scale: a SavedModel's network takes
  // the data's own (or --input-scale), as a fresh model does.
  const std::optional<ModelDescription> input_from =
      saved_model_keys.empty() ? recorded : std::optional<ModelDescription>{};
  Dataset data = load_job_data(job_, data_options, input_from, say_line);
  if (recorded && identity && static_cast<std::size_t>(data.num_classes) > recorded_classes.size()) {
    // Labels 0..k-1 of a data set with more classes (a 5-unit head trained
    // on digits 0-4): select them, as training did.
    data_options.classes = recorded_classes;
    data = load_job_data(job_, data_options, input_from, say_line);
  }
  const std::optional<Standardization> standardization = standardize_data(data, recorded);
  say("data: " + (job_.data_file ? job_.data_file->data : data_options.dir) + ": " + data.describe());
  if (const std::string w = train_test_overlap_warning(data.train, data.test); !w.empty()) say(w);

  SelectedBackend selected = select_backend(job_.device, job_.threads, job_.cuda);
  say(selected.note);

  if (recorded) {
    out.model = *recorded;
    if (!saved_model_keys.empty()) {
      out.model.input.scale = data.input_scale;
      auto& a = out.model.assumptions;
      a.erase(std::remove_if(a.begin(), a.end(), [](const std::string& t) { return t.rfind("the input takes", 0) == 0; }),
              a.end());
      a.push_back(fmt::format("input: raw values x {:.6g}, the training data's scale (keras_metadata.pb records none)",
                              data.input_scale));
    }
    if (out.model.input.features != data.train.cols) {
      throw Error(fmt::format("the model recorded in {} takes {} features, the data in {} has {}",
                              resume_reader->prefix(), out.model.input.features, data_options.dir, data.train.cols));
    }
  } else {
    out.model = fresh_model(data, optimizer);
    if (standardization) {
      out.model.input.mean = standardization->mean;
      out.model.input.stddev = standardization->stddev;
    }
  }

  TrainOptions options = job_.train;
  MetricsLogger metrics;  // its sinks are added below; the callbacks see them
  if (options.log_every > 0) {
    std::vector<StepCallback> chain = {metrics.step_callback()};
    if (options.on_steps) chain.push_back(options.on_steps);
    options.on_steps = [chain](const StepReport& r) {
      for (const StepCallback& c : chain) c(r);
    };
  }
  Trainer trainer(*selected.backend, out.model, options);

  std::string clip;
  if (optimizer.clip_value > 0) clip = fmt::format(", clip value {}", optimizer.clip_value);
  if (optimizer.clip_norm > 0) clip = fmt::format(", clip norm {}", optimizer.clip_norm);
  if (optimizer.schedule.kind != math::LrScheduleKind::kConstant) {
    clip += ", lr schedule " + lr_schedule_text(optimizer.schedule);
  }
  std::vector<NodeRegularizer> regularizers;
  std::vector<std::string> node_names;
  for (const ModelNode& n : out.model.nodes) regularizers.push_back(n.regularizer), node_names.push_back(n.name);
  const std::string regularization = regularization_summary(regularizers, node_names);
  if (!regularization.empty()) clip += ", " + regularization;
  say(fmt::format("model: {}, {} lr {}{}, batch {}", trainer.spec().describe(), optimizer_name(optimizer.kind),
                  static_cast<double>(optimizer.learning_rate), clip, options.batch_size));
  if (resume_reader && !saved_model_keys.empty()) {
    const std::size_t n =
        resume_saved_model_weights(trainer.backend(), *resume_reader, trainer.table(), saved_model_keys);
    say(fmt::format("{}: {} variables resumed from the SavedModel; optimizer state and step start fresh (graft does "
                    "not map a SavedModel's optimizer slots)",
                    resume_reader->prefix(), n));
  } else if (resume_reader) {
    resume(trainer, *resume_reader);
  }
  if (restore_and_report(trainer, data)) {
    out.dry_run = true;
    return out;
  }

  if (!job_.logdir.empty()) {
    const std::string events = metrics.add_tensorboard(job_.logdir);
    say("tensorboard: " + events + " (view with: tensorboard --logdir " + job_.logdir + ")");
  }
  if (!job_.metrics_file.empty()) {
    metrics.add_file(job_.metrics_file);
    say("metrics: " + job_.metrics_file);
  }

  // Uploads the data; caches the frozen layers' outputs when it can.
  const PreparedData prepared = prepare_training_data(*selected.backend, trainer.spec(), data, job_.cache);
  if (!prepared.cache.note.empty()) say(prepared.cache.note);

  if (cb_.before_fit) cb_.before_fit();
  out.result = trainer.fit(prepared.view(), metrics.epoch_callback(cb_.on_epoch), cb_.on_progress);
  return out;
}

}  // namespace

TrainJobResult run_train_job(const TrainJob& job, const TrainJobCallbacks& callbacks) {
  return Job(job, callbacks).run();
}

}  // namespace graft
