#include "host/jobs/eval_job.h"

#include <fmt/format.h>

#include <algorithm>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/error.h"
#include "host/data/dataset.h"
#include "host/data/standardize.h"
#include "host/device_select.h"
#include "host/model/model_io.h"
#include "host/predict/predictions.h"

namespace graft {
namespace {

// Which original labels the model's outputs stand for, and which images to
// score: the recorded head's labels when the checkpoint records its model,
// else what `classes` and the output count allow without guessing silently.
struct Scoring {
  DatasetOptions data;             // classes relabelled to the output that stands for them
  std::vector<int> output_labels;  // original label of each output (kNoClass: none), empty when unknown
  std::vector<std::string> notes;  // assumptions and subsets
};

Scoring scoring_for(const EvalJob& job, const std::optional<ModelDescription>& recorded, int64_t outputs,
                    const std::function<std::string(const std::string&)>& name) {
  Scoring s;
  s.data.dir = job.data_dir;
  s.data.load_train = false;
  const std::vector<int>& asked = job.classes;
  if (recorded) {
    s.output_labels = recorded->output.labels;
    const std::vector<int> chosen = asked.empty() ? trained_classes(*recorded) : asked;
    for (int c : chosen) {
      const auto it = std::find(s.output_labels.begin(), s.output_labels.end(), c);
      if (it == s.output_labels.end()) {
        throw Error(fmt::format("class {} is not one the model was trained on (its outputs stand for {})", c,
                                label_list_text(s.output_labels)));
      }
      s.data.classes.push_back(c);
      s.data.relabel_to.push_back(static_cast<int>(it - s.output_labels.begin()));
    }
    if (chosen.size() < trained_classes(*recorded).size()) {
      s.notes.push_back(fmt::format("scoring images of classes {} only, predicted among all {} outputs",
                                    label_list_text(chosen), outputs));
    }
    return s;
  }
  if (asked.empty()) return s;  // every class, label i = output i
  s.data.classes = asked;
  if (static_cast<int64_t>(asked.size()) == outputs) {
    s.notes.push_back(fmt::format("assumed: output i stands for the i-th class of {} ({}); the checkpoint "
                                  "does not record its labels",
                                  name("classes"), label_list_text(asked)));
    return s;  // relabelled 0..k-1, as the head was trained
  }
  const int largest = *std::max_element(asked.begin(), asked.end());
  if (largest < outputs) {
    s.data.relabel_to = asked;  // keep the original labels: output i = label i
    s.notes.push_back(fmt::format("assumed: output i stands for label i (the checkpoint does not record its "
                                  "labels); scoring images of classes {} among all {} outputs",
                                  label_list_text(asked), outputs));
    return s;
  }
  throw Error(fmt::format("{} {} names {} classes but the model has {} outputs, and the checkpoint does not "
                          "record which output stands for which class",
                          name("classes"), label_list_text(asked), asked.size(), outputs));
}

// The IDX folder's t10k files, or the data file's test part, transformed as
// the model records or its graph computes (or by the data's natural scale,
// which is then said).
Dataset load_eval_data(const EvalJob& job, const DatasetOptions& selection, const ResolvedCheckpointModel& resolved,
                       std::vector<std::string>& notes, const std::function<std::string(const std::string&)>& name) {
  const std::optional<ModelDescription>& recorded = resolved.recorded;
  const ModelInput* input = resolved.input();
  if (!job.data_file) {
    DatasetOptions o = selection;
    if (input) o.scale = idx_pixel_scale(*input);
    Dataset data = load_dataset(o);
    // The recorded (or the graph's) standardization (a data file applies it while loading).
    if (input && !input->mean.empty()) apply_standardization(data.test, input->mean, input->stddev);
    return data;
  }
  FileDatasetOptions o = *job.data_file;
  o.classes = selection.classes;
  o.relabel_to = selection.relabel_to;
  o.per_class = selection.per_class;
  o.load_train = false;
  if (recorded && o.scale) {
    throw Error(name("input_scale") + " contradicts the model recorded in the checkpoint: leave it out");
  }
  if (input) {
    if (o.scale && (*o.scale != input->scale || !input->mean.empty())) {
      throw Error(fmt::format("{} {} contradicts the {}, which transforms its input itself ({}): leave {} out",
                              name("input_scale"), *o.scale, input->read_from, input_transform_text(*input),
                              name("input_scale")));
    }
    o.input = *input;
  }
  if (recorded) {
    o.file.csv.class_names = recorded->output.class_names;
    if (o.file.csv.label_column.empty()) o.file.csv.label_column = recorded->output.label_column;
  }
  Dataset data = load_file_dataset(o);
  if (!input && !o.scale) {
    notes.push_back(fmt::format("assumed: inputs are the raw values x {:.6g} (the checkpoint does not record its "
                                "input scale)",
                                data.input_scale));
  }
  return data;
}

}  // namespace

EvalJobResult run_eval_job(const EvalJob& job) {
  const auto name = [&job](const std::string& field) {
    return job.model.option_name ? job.model.option_name(field) : field;
  };
  const BundleReader reader = BundleReader::open(job.checkpoint);
  EvalJobResult r;
  r.prefix = reader.prefix();
  r.resolution_note = reader.resolution_note();
  r.model = resolve_checkpoint_model(reader, job.model);
  const std::optional<ModelDescription>& recorded = r.model.recorded;
  const CheckpointModel& model = r.model.model;
  r.notes = r.model.notes;

  const Scoring scoring = scoring_for(job, recorded, model.spec.outputs(), name);
  r.output_labels = scoring.output_labels;
  r.notes.insert(r.notes.end(), scoring.notes.begin(), scoring.notes.end());
  const Dataset data = load_eval_data(job, scoring.data, r.model, r.notes, name);
  const std::string where = job.data_file ? job.data_file->data : job.data_dir;
  const DataSplit& test = data.test;
  if (test.rows == 0) throw Error(where + ": no test images of the chosen classes");
  if (test.cols != model.spec.inputs()) {
    throw Error("the model takes " + std::to_string(model.spec.inputs()) + " inputs, the images in " + where +
                " have " + std::to_string(test.cols) + " pixels");
  }
  if (data.num_classes > model.spec.outputs()) {
    throw Error("the model has " + std::to_string(model.spec.outputs()) + " outputs, the data " +
                std::to_string(data.num_classes) + " classes (choose classes with " + name("classes") + ")");
  }

  SelectedBackend selected = select_backend(job.device, job.threads, job.cuda);
  Backend& backend = *selected.backend;
  r.device_note = selected.short_note;
  r.device = backend.description();
  backend.build(model.spec.backend_shapes(), OptimizerConfig{}, std::min<int64_t>(test.rows, 10000));
  load_checkpoint_weights(backend, reader, model);
  const auto uploaded = backend.upload(test.features.data(), test.labels.data(), test.rows, test.cols);
  const EpochTotals totals = backend.evaluate(*uploaded, 0);
  r.samples = totals.samples;
  r.correct = totals.correct;
  r.accuracy = static_cast<double>(totals.correct) / static_cast<double>(totals.samples);
  r.loss = totals.loss_sum / static_cast<double>(totals.samples);
  if (job.per_class) {
    // On a GPU the rows run where evaluate ran them; the CPU keeps the reference path.
    const RowPredictions p = selected.gpu ? predict_rows(backend, test.features.data(), test.rows, test.cols,
                                                         model.spec.outputs())
                                          : predict_rows(reader, model, test.features.data(), test.rows);
    const std::vector<std::string> names = output_names(
        p.outputs, scoring.output_labels, recorded ? recorded->output.class_names : std::vector<std::string>{});
    r.per_class = class_report(test.labels, p.predicted, names);
  }
  return r;
}

}  // namespace graft
