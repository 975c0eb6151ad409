// graft predict CKPT --data PATH: the predicted class and the probabilities
// of every row of a data file (or of an IDX folder's t10k images), in input
// order, as CSV on stdout or in --out FILE.csv|.npy|.npz
// (host/predict/prediction_output.h). Labels in the file are not needed and
// not used. Runs on the CPU reference path by default; --device cuda (or
// auto, finding a GPU) runs the rows on the GPU (host/predict/predictions.h).
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/error.h"
#include "host/data/standardize.h"
#include "cuda/cuda_backend.h"
#include "host/device_select.h"
#include "host/data/data_file.h"
#include "host/data/dataset.h"
#include "host/data/file_dataset.h"
#include "host/model/model_io.h"
#include "host/predict/prediction_output.h"
#include "host/predict/predictions.h"
#include "host/restore/checkpoint_layers.h"
#include "host/restore/checkpoint_model_resolution.h"
#include "host/train/frozen_cache.h"
#include "tools/graft/commands.h"
#include "tools/graft/data_flags.h"

namespace graft::cli {
namespace {

struct PredictFlags {
  std::string checkpoint;
  std::string data;
  std::string out;
  int top = 0;
  std::string activation;
  bool activation_given = false;
  std::string device = "cpu";
  DataFlags data_flags;
};

// The rows to predict, as network inputs, and what was assumed about them.
struct PredictInput {
  std::vector<float> features;
  int64_t rows = 0, cols = 0;
  std::string origin;
};

PredictInput read_input(const PredictFlags& f, const ResolvedCheckpointModel& resolved,
                        std::vector<std::string>& notes) {
  const std::optional<ModelDescription>& recorded = resolved.recorded;
  const ModelInput* input = resolved.input();  // the record's, or the graph's own scaling
  PredictInput in;
  if (!is_data_file(f.data)) {
    check_folder_flags(f.data, f.data_flags);
    DatasetOptions o;
    o.dir = f.data;
    o.load_train = false;
    if (input) o.scale = idx_pixel_scale(*input);
    Dataset d = load_dataset(o);  // pixels / 255, as IDX folders are unless a graph scales them otherwise
    if (input && !input->mean.empty()) {
      apply_standardization(d.test, input->mean, input->stddev);  // as recorded
    }
    in.features = std::move(d.test.features);
    in.rows = d.test.rows;
    in.cols = d.test.cols;
    in.origin = f.data + " (t10k images)";
    return in;
  }
  DataFileOptions o;
  o.labels = f.data_flags.labels;
  o.csv.label_column = f.data_flags.label_column;  // dropped from the features when present
  if (recorded) {
    o.csv.class_names = recorded->output.class_names;
    if (o.csv.label_column.empty()) {
      o.csv.label_column = recorded->output.label_column;  // left out of the features when present
      o.csv.label_optional = true;
    }
  }
  if (!f.data_flags.max_memory.empty()) o.limits.max_bytes = parse_byte_size(f.data_flags.max_memory);
  DataFile file = read_data_file(f.data, o);
  RawData raw = file.test ? std::move(*file.test) : std::move(file.rows);
  if (file.test) notes.push_back("predicting the test part of " + f.data + " (" + raw.origin + ")");
  if (recorded && f.data_flags.input_scale) {
    throw Error("--input-scale contradicts the model recorded in the checkpoint: leave it out");
  }
  if (input && f.data_flags.input_scale && (*f.data_flags.input_scale != input->scale || !input->mean.empty())) {
    throw Error(fmt::format("--input-scale {} contradicts the {}, which transforms its input itself ({}): leave "
                            "--input-scale out",
                            *f.data_flags.input_scale, input->read_from, input_transform_text(*input)));
  }
  const double scale = input ? input->scale : f.data_flags.input_scale.value_or(raw.natural_scale);
  if (!input && !f.data_flags.input_scale) {
    notes.push_back(fmt::format("assumed: inputs are the raw values x {:.6g} (the checkpoint does not record its "
                                "input scale)",
                                scale));
  }
  static const std::vector<float> none;
  apply_input_transform(raw.features, raw.cols, scale, input ? input->mean : none, input ? input->stddev : none);
  in.features = std::move(raw.features);
  in.rows = raw.rows;
  in.cols = raw.cols;
  in.origin = raw.origin;
  return in;
}

int run_predict(const PredictFlags& f) {
  if (f.top < 0) throw Error("--top must not be negative");
  CheckpointModelQuery query;
  if (f.activation_given) {
    query.activation = parse_activation(f.activation);
    if (!query.activation) throw Error("unknown activation '" + f.activation + "'");
  }
  query.option_name = cli_option_name;
  const BundleReader reader = BundleReader::open(f.checkpoint);
  if (!reader.resolution_note().empty()) std::fprintf(stderr, "%s\n", reader.resolution_note().c_str());
  const ResolvedCheckpointModel resolved = resolve_checkpoint_model(reader, query);
  const std::optional<ModelDescription>& recorded = resolved.recorded;
  const CheckpointModel& model = resolved.model;
  std::vector<std::string> notes = resolved.notes;
  // What the graph's network was assumed to be (its input scale, its labels)
  // is said as eval says it; with neither record nor graph, the labels.
  if (resolved.graph) {
    for (const std::string& a : resolved.graph->assumptions) {
      if (std::find(notes.begin(), notes.end(), "assumed: " + a) == notes.end()) notes.push_back("assumed: " + a);
    }
  } else if (!recorded) {
    notes.push_back("assumed: output i stands for label i (the checkpoint does not record its labels)");
  }
  const PredictInput in = read_input(f, resolved, notes);
  if (in.cols != model.spec.inputs()) {
    throw Error(fmt::format("the model takes {} features, {} has {} per row", model.spec.inputs(), in.origin, in.cols));
  }
  // cpu, and auto without a GPU: the reference path (no backend is made:
  // making the CPU backend would change OpenBLAS's thread count, and with it
  // the reference's rounding). cuda, and auto with a GPU: the rows run there.
  RowPredictions p;
  std::string device_note;
  const bool gpu = f.device == "cuda" || (f.device == "auto" && cuda_device_count() > 0);
  if (!gpu) {
    if (f.device == "auto") device_note = "device: auto -> cpu (no usable CUDA device; graft --version says why)";
    p = predict_rows(reader, model, in.features.data(), in.rows);
  } else {
    SelectedBackend selected = select_backend("cuda");  // throws saying why when there is no usable GPU
    device_note = (f.device == "auto" ? "device: auto -> cuda [" : "device: cuda [") +
                  selected.backend->description() + "]";
    Backend& backend = *selected.backend;
    backend.build(model.spec.backend_shapes(), OptimizerConfig{}, std::clamp<int64_t>(in.rows, 1, 4096));
    load_checkpoint_weights(backend, reader, model);
    p = predict_rows(backend, in.features.data(), in.rows, in.cols, model.spec.outputs());
  }
  PredictionNames names;
  if (recorded) names.labels = recorded->output.labels;
  names.outputs = output_names(p.outputs, names.labels, recorded ? recorded->output.class_names : std::vector<std::string>{});

  std::fprintf(stderr, "model: %s from %s (%s)\ndata: %lld rows from %s\n", model.spec.describe().c_str(),
               reader.prefix().c_str(), resolved.how.c_str(),
               static_cast<long long>(in.rows), in.origin.c_str());
  if (!device_note.empty()) std::fprintf(stderr, "%s\n", device_note.c_str());
  for (const std::string& n : notes) std::fprintf(stderr, "%s\n", n.c_str());
  if (f.out.empty()) {
    write_predictions_csv(std::cout, p, names, f.top);
    std::cout.flush();
  } else {
    write_predictions(f.out, p, names, f.top);
    std::fprintf(stderr, "wrote %s\n", f.out.c_str());
  }
  return 0;
}

}  // namespace

void register_predict(CLI::App& app) {
  auto flags = std::make_shared<PredictFlags>();
  CLI::App* sub = app.add_subcommand("predict", "Predict the class of every row of a data file (CSV or .npy/.npz out)");
  sub->add_option("checkpoint", flags->checkpoint, "Checkpoint prefix, one of its files, a folder with a `checkpoint` file, or a TF2 SavedModel folder")
      ->required();
  sub->add_option("--data", flags->data,
                  "A data file (CSV, .npy of features, .npz: its x_test if it has one, IDX) or an IDX folder (t10k)")
      ->required();
  sub->add_option("--out", flags->out,
                  "FILE.csv (label, p_<class> columns), FILE.npy (probabilities [rows, outputs]) or FILE.npz (label, "
                  "probabilities); default: CSV on stdout");
  sub->add_option("--top", flags->top, "CSV: the K most probable classes per row (label, p_label, label_2, ...)");
  sub->add_option("--activation", flags->activation,
                  "Activation of every layer but the last (relu, elu, selu, leaky_relu:ALPHA, tanh, sigmoid), needed "
                  "for checkpoints that record no model and have no .meta graph");
  sub->add_option("--device", flags->device,
                  "cpu (default: the reference path), cuda (the rows run on the GPU) or auto")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  add_data_flags(sub, flags->data_flags, DataUse::kPredict);
  sub->callback([flags, sub] {
    flags->activation_given = sub->get_option("--activation")->count() > 0;
    run_guarded("predict", [flags] { return run_predict(*flags); });
  });
}

}  // namespace graft::cli
