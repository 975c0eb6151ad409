// graft eval CKPT: rebuild the dense network a checkpoint holds and measure
// loss and top-1 accuracy on the test split (t10k) of an MNIST-style folder.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/error.h"
#include "host/model/model_io.h"
#include "checkpoint/meta_graph.h"
#include "host/restore/checkpoint_layers.h"
#include "host/restore/graph_import.h"
#include "host/data/dataset.h"
#include "host/device_select.h"
#include "host/predict/class_report.h"
#include "host/predict/predictions.h"
#include "tools/graft/commands.h"
#include "tools/graft/data_flags.h"
#include "tools/graft/cuda_flags.h"

namespace graft::cli {
namespace {

struct EvalFlags {
  std::string checkpoint;
  std::string data = kDefaultDataDir;
  std::vector<std::string> layers;
  std::string activation = "relu";
  std::string classes;
  std::vector<std::string> renames;
  std::string device = "auto";
  int threads = 0;
  bool json = false;
  bool activation_given = false;
  DataFlags data_flags;  // --data FILE (tools/graft/data_flags.h)
  uint64_t seed = 42;    // of --test-split: the seed training used
  bool per_class = false;
  CudaFlags cuda;
};

// --data DIR: its t10k files; --data FILE: the file's test part or split, or
// all its rows, transformed as the model records (or by the data's natural
// scale, which is then said).
Dataset load_eval_data(const EvalFlags& f, const DatasetOptions& selection,
                       const std::optional<ModelDescription>& recorded, std::vector<std::string>& notes) {
  if (!is_data_file(f.data)) {
    check_folder_flags(f.data, f.data_flags);
    return load_dataset(selection);
  }
  Dataset data = load_file_dataset(file_options(f.data, f.data_flags, selection, f.seed, recorded));
  if (!recorded && !f.data_flags.input_scale) {
    notes.push_back(fmt::format("assumed: inputs are the raw values x {:.6g} (the checkpoint does not record its "
                                "input scale)",
                                data.input_scale));
  }
  return data;
}

// Per-class results from per-row predictions on the CPU (host/predict/).
ClassReport per_class_report(const BundleReader& reader, const CheckpointModel& model, const DataSplit& test,
                             const std::vector<int>& output_labels, const std::optional<ModelDescription>& recorded) {
  const RowPredictions p = predict_rows(reader, model, test.features.data(), test.rows);
  const std::vector<std::string> names = output_names(
      p.outputs, output_labels, recorded ? recorded->output.class_names : std::vector<std::string>{});
  return class_report(test.labels, p.predicted, names);
}

// Which original labels the model's outputs stand for, and which images to
// score: the recorded head's labels when the checkpoint records its model,
// else what --classes and the output count allow without guessing silently.
struct Scoring {
  DatasetOptions data;             // classes relabelled to the output that stands for them
  std::vector<int> output_labels;  // original label of each output (kNoClass: none), empty when unknown
  std::vector<std::string> notes;  // said on stderr: assumptions and subsets
};

Scoring scoring_for(const EvalFlags& f, const std::optional<ModelDescription>& recorded, int64_t outputs) {
  Scoring s;
  s.data.dir = f.data;
  s.data.load_train = false;
  const std::vector<int> asked = f.classes.empty() ? std::vector<int>{} : parse_class_list(f.classes);
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
    s.notes.push_back(fmt::format("assumed: output i stands for the i-th class of --classes ({}); the checkpoint "
                                  "does not record its labels",
                                  label_list_text(asked)));
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
  throw Error(fmt::format("--classes {} names {} classes but the model has {} outputs, and the checkpoint does not "
                          "record which output stands for which class",
                          f.classes, asked.size(), outputs));
}

// "elu", "leaky_relu:0.1": with leaky ReLU's alpha, which tells models apart.
std::string activation_text(const Activation& a) {
  return a.kind == ActivationKind::kLeakyRelu ? fmt::format("leaky_relu:{}", a.alpha) : activation_name(a);
}

int run_eval(const EvalFlags& f) {
  const auto activation = parse_activation(f.activation);
  if (!activation) throw Error("unknown activation '" + f.activation + "'");

  const BundleReader reader = BundleReader::open(f.checkpoint);
  if (!reader.resolution_note().empty()) std::fprintf(stderr, "%s\n", reader.resolution_note().c_str());
  const std::optional<ModelDescription> recorded = read_model_description(reader);
  // Else a TensorFlow checkpoint's graph (PREFIX.meta) says what the network is.
  const std::optional<ModelDescription> graph = recorded ? std::nullopt : model_from_meta_graph(reader.prefix());
  const std::optional<ModelDescription>& known = recorded ? recorded : graph;
  const std::string known_where =
      recorded ? "the model recorded in " + reader.prefix() : "the graph " + meta_graph_path(reader.prefix());
  if (known && f.activation_given) {
    for (std::size_t i = 0; i + 1 < known->nodes.size(); ++i) {
      const Activation& a = known->nodes[i].activation;
      // With batch norm before the activation the dense node is linear: the batch norm carries it.
      if (a.kind == ActivationKind::kIdentity && known->nodes[i].kind == NodeKind::kDense && i + 1 < known->nodes.size() &&
          known->nodes[i + 1].kind == NodeKind::kBatchNorm) {
        continue;
      }
      if (known->nodes[i].kind == NodeKind::kDropout) continue;
      if (a.kind != activation->kind || (a.kind == ActivationKind::kLeakyRelu && a.alpha != activation->alpha)) {
        throw Error("--activation " + f.activation + " contradicts " + known_where + " (" + known->nodes[i].name +
                    " uses " + activation_text(a) + "): leave --activation out");
      }
    }
  }
  std::vector<std::string> notes;
  CheckpointModel model;
  if (recorded && (!f.layers.empty() || !f.renames.empty())) {
    throw Error(std::string(f.layers.empty() ? "--rename" : "--layers") + " is for checkpoints that do not record "
                "their model; " + reader.prefix() + " records it (see graft inspect)");
  }
  if (known && f.layers.empty() && f.renames.empty()) {
    model = model_from_description(reader, *known);
    // What the graph's batch norm and dropout nodes were read as, and what was assumed.
    bool layered = false;
    for (const ModelNode& n : known->nodes) layered = layered || n.kind != NodeKind::kDense;
    if (graph && layered) {
      for (const std::string& r : graph->read) notes.push_back("read: " + r);
      for (const std::string& a : graph->assumptions) notes.push_back("assumed: " + a);
    }
  } else {
    // Built from the variables, as --layers/--rename ask; a graph still says the activation.
    CheckpointModelOptions model_options;
    model_options.renames = parse_rename_rules(f.renames);
    model_options.layers = f.layers;
    model_options.activation = *activation;
    if (graph && !f.activation_given && graph->nodes.size() > 1) {
      // Each hidden layer's activation: its dense node's, or its batch norm's when that comes first.
      std::vector<Activation> hidden;
      for (std::size_t i = 0; i + 1 < graph->nodes.size(); ++i) {
        const ModelNode& n = graph->nodes[i];
        if (n.kind != NodeKind::kDense) continue;
        Activation a = n.activation;
        for (std::size_t j = i + 1; j < graph->nodes.size() && graph->nodes[j].kind != NodeKind::kDense; ++j) {
          if (a.kind == ActivationKind::kIdentity && graph->nodes[j].kind == NodeKind::kBatchNorm) {
            a = graph->nodes[j].activation;
          }
        }
        bool last_dense = true;
        for (std::size_t j = i + 1; j < graph->nodes.size(); ++j) last_dense = last_dense && graph->nodes[j].kind != NodeKind::kDense;
        if (!last_dense) hidden.push_back(a);
      }
      if (!hidden.empty()) model_options.activation = hidden.front();
      for (const Activation& a : hidden) {
        if (activation_text(a) != activation_text(model_options.activation)) {
          throw Error(known_where + " uses " + activation_text(model_options.activation) + " and " +
                      activation_text(a) + " in different layers; with --layers or "
                      "--rename every hidden layer has one --activation: leave them out");
        }
      }
    }
    model = model_from_checkpoint(reader, model_options);
    notes.insert(notes.end(), model.assumptions.begin(), model.assumptions.end());
    if (!f.activation_given && model.layers.size() > 1) {
      notes.push_back(graph ? "activation " + activation_text(model_options.activation) + " for every hidden layer, "
                                  "from " + known_where
                            : "assumed: activation " + f.activation + " for every hidden layer (the checkpoint does "
                                  "not record it; pass --activation)");
    }
  }

  const Scoring scoring = scoring_for(f, recorded, model.spec.outputs());
  notes.insert(notes.end(), scoring.notes.begin(), scoring.notes.end());
  const Dataset data = load_eval_data(f, scoring.data, recorded, notes);
  const DataSplit& test = data.test;
  if (test.rows == 0) throw Error(f.data + ": no test images of the chosen classes");
  if (test.cols != model.spec.inputs()) {
    throw Error("the model takes " + std::to_string(model.spec.inputs()) + " inputs, the images in " + f.data +
                " have " + std::to_string(test.cols) + " pixels");
  }
  if (data.num_classes > model.spec.outputs()) {
    throw Error("the model has " + std::to_string(model.spec.outputs()) + " outputs, the data " +
                std::to_string(data.num_classes) + " classes (choose classes with --classes)");
  }

  SelectedBackend selected = select_backend(f.device, f.threads, cuda_options(f.cuda));
  Backend& backend = *selected.backend;
  backend.build(model.spec.backend_shapes(), OptimizerConfig{}, std::min<int64_t>(test.rows, 10000));
  load_checkpoint_weights(backend, reader, model);
  const auto uploaded = backend.upload(test.features.data(), test.labels.data(), test.rows, test.cols);
  const EpochTotals totals = backend.evaluate(*uploaded, 0);
  const double accuracy = static_cast<double>(totals.correct) / static_cast<double>(totals.samples);
  const double loss = totals.loss_sum / static_cast<double>(totals.samples);
  std::optional<ClassReport> per_class;
  if (f.json || f.per_class) per_class = per_class_report(reader, model, test, scoring.output_labels, recorded);

  const std::string how = recorded ? "as recorded in the checkpoint"
                          : graph  ? "as its TensorFlow graph " + meta_graph_path(reader.prefix()) + " defines it"
                                   : "rebuilt from its variables";
  std::fprintf(stderr, "%s\nmodel: %s from %s (%s)\ndata: %lld test images from %s\n", selected.note.c_str(),
               model.spec.describe().c_str(), reader.prefix().c_str(), how.c_str(), static_cast<long long>(test.rows),
               f.data.c_str());
  for (const std::string& n : notes) std::fprintf(stderr, "%s\n", n.c_str());
  if (f.json) {
    nlohmann::json j;
    j["checkpoint"] = reader.prefix();
    j["accuracy"] = accuracy;
    j["loss"] = loss;
    j["correct"] = totals.correct;
    j["samples"] = totals.samples;
    j["activation"] = activation_name(model.spec.layers.front().activation);
    j["model_recorded"] = recorded.has_value();
    j["model_source"] = known ? known->source : "checkpoint variables";
    j["notes"] = notes;
    if (!scoring.output_labels.empty()) j["output_labels"] = scoring.output_labels;
    j["per_class"] = per_class->json();
    j["device"] = backend.description();
    for (std::size_t l = 0; l < model.layers.size(); ++l) {
      const CheckpointDenseLayer& c = model.layers[l];
      if (c.kind != NodeKind::kDense) {
        j["layers"].push_back({{"name", c.name}, {"kind", node_kind_name(c.kind)}, {"variables", c.leaf_keys},
                               {"shape", {c.fan_in, c.fan_out}},
                               {"activation", activation_name(model.spec.layers[l].activation)}});
        continue;
      }
      j["layers"].push_back({{"name", c.name}, {"kernel", c.kernel_key}, {"bias", c.bias_key},
                             {"shape", {c.fan_in, c.fan_out}},
                             {"activation", activation_name(model.spec.layers[l].activation)}});
    }
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("accuracy: %.4f\nloss: %.4f\n%s", accuracy, loss, per_class ? per_class->text().c_str() : "");
  }
  return 0;
}

}  // namespace

void register_eval(CLI::App& app) {
  auto flags = std::make_shared<EvalFlags>();
  CLI::App* sub = app.add_subcommand("eval", "Evaluate a checkpoint's dense network on the test split (t10k)");
  sub->add_option("checkpoint", flags->checkpoint, "Checkpoint prefix, one of its files, or a folder with a `checkpoint` file")
      ->required();
  sub->add_option("--data", flags->data,
                  "Folder with t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz], or a data file (.npy with "
                  "--labels, .npz, CSV, IDX): its test part or --test-split, else all its rows")
      ->capture_default_str();
  add_data_flags(sub, flags->data_flags, DataUse::kEval);
  sub->add_option("--seed", flags->seed, "Seed of --test-split (the one training used)")->capture_default_str();
  sub->add_option("--layers", flags->layers, "Layer names in model order (default: all, natural order, outputs last)")
      ->delimiter(',')
      ->allow_extra_args(false);
  sub->add_option("--activation", flags->activation,
                  "Activation of every layer but the last, for checkpoints that record no model and have no .meta "
                  "graph (default relu, and then said)");
  sub->add_option("--classes", flags->classes,
                  "Evaluate on images of these classes only (0-4 or 1,3), each scored against the output that stands "
                  "for it: as recorded, or for a 5-unit head trained on --classes 5-9, output i = the i-th class");
  sub->add_option("--rename", flags->renames,
                  "REGEX=REPLACEMENT applied to checkpoint names (repeatable; the first matching rule wins)")
      ->allow_extra_args(false);
  sub->add_option("--device", flags->device, "cpu, cuda or auto")->capture_default_str();
  sub->add_option("--threads", flags->threads, "CPU threads (default: all cores)")
      ->check(CLI::Range(0, max_cpu_threads()));
  sub->add_flag("--json", flags->json, "Print the result as JSON (with per-class results and the confusion matrix)");
  sub->add_flag("--per-class", flags->per_class,
                "Also print per-class precision and recall and the confusion matrix (from per-row predictions on the CPU)");
  add_cuda_flags(*sub, flags->cuda);
  sub->callback([flags, sub] {
    flags->activation_given = sub->get_option("--activation")->count() > 0;
    run_guarded("eval", [flags] { return run_eval(*flags); });
  });
}

}  // namespace graft::cli
