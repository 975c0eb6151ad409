// graft eval CKPT: rebuild the dense network a checkpoint holds and measure
// loss and top-1 accuracy on the test split (t10k) of an MNIST-style folder.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/error.h"
#include "host/restore/checkpoint_layers.h"
#include "host/data/dataset.h"
#include "host/device_select.h"
#include "tools/graft/commands.h"

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
};

int run_eval(const EvalFlags& f) {
  const auto activation = parse_activation(f.activation);
  if (!activation) throw Error("unknown activation '" + f.activation + "'");

  const BundleReader reader = BundleReader::open(f.checkpoint);
  if (!reader.resolution_note().empty()) std::fprintf(stderr, "%s\n", reader.resolution_note().c_str());
  CheckpointModelOptions model_options;
  model_options.renames = parse_rename_rules(f.renames);
  model_options.layers = f.layers;
  model_options.activation = *activation;
  const CheckpointModel model = model_from_checkpoint(reader, model_options);

  DatasetOptions data_options;
  data_options.dir = f.data;
  data_options.load_train = false;
  if (!f.classes.empty()) data_options.classes = parse_class_list(f.classes);
  const Dataset data = load_dataset(data_options);
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

  SelectedBackend selected = select_backend(f.device, f.threads);
  Backend& backend = *selected.backend;
  backend.build(model.spec.backend_shapes(), OptimizerConfig{}, std::min<int64_t>(test.rows, 10000));
  load_checkpoint_weights(backend, reader, model);
  const auto uploaded = backend.upload(test.features.data(), test.labels.data(), test.rows, test.cols);
  const EpochTotals totals = backend.evaluate(*uploaded, 0);
  const double accuracy = static_cast<double>(totals.correct) / static_cast<double>(totals.samples);
  const double loss = totals.loss_sum / static_cast<double>(totals.samples);

  std::fprintf(stderr, "%s\nmodel: %s from %s\ndata: %lld test images from %s\n", selected.note.c_str(),
               model.spec.describe().c_str(), reader.prefix().c_str(), static_cast<long long>(test.rows),
               f.data.c_str());
  if (f.json) {
    nlohmann::json j;
    j["checkpoint"] = reader.prefix();
    j["accuracy"] = accuracy;
    j["loss"] = loss;
    j["correct"] = totals.correct;
    j["samples"] = totals.samples;
    j["activation"] = activation_name(*activation);
    j["device"] = backend.description();
    for (const CheckpointDenseLayer& l : model.layers) {
      j["layers"].push_back({{"name", l.name}, {"kernel", l.kernel_key}, {"bias", l.bias_key},
                             {"shape", {l.fan_in, l.fan_out}}});
    }
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("accuracy: %.4f\nloss: %.4f\n", accuracy, loss);
  }
  return 0;
}

}  // namespace

void register_eval(CLI::App& app) {
  auto flags = std::make_shared<EvalFlags>();
  CLI::App* sub = app.add_subcommand("eval", "Evaluate a checkpoint's dense network on the test split (t10k)");
  sub->add_option("checkpoint", flags->checkpoint, "Checkpoint prefix, one of its files, or a folder with a `checkpoint` file")
      ->required();
  sub->add_option("--data", flags->data, "Folder with t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz]")
      ->capture_default_str();
  sub->add_option("--layers", flags->layers, "Layer names in model order (default: all, natural order, outputs last)")
      ->delimiter(',')
      ->allow_extra_args(false);
  sub->add_option("--activation", flags->activation, "Activation of every layer but the last")->capture_default_str();
  sub->add_option("--classes", flags->classes, "Evaluate on these classes only, relabelled 0..k-1: 0-4 or 1,3");
  sub->add_option("--rename", flags->renames,
                  "REGEX=REPLACEMENT applied to checkpoint names (repeatable; the first matching rule wins)")
      ->allow_extra_args(false);
  sub->add_option("--device", flags->device, "cpu, cuda or auto")->capture_default_str();
  sub->add_option("--threads", flags->threads, "CPU threads (default: all cores)")
      ->check(CLI::Range(0, max_cpu_threads()));
  sub->add_flag("--json", flags->json, "Print the result as JSON");
  sub->callback([flags] { run_guarded("eval", [flags] { return run_eval(*flags); }); });
}

}  // namespace graft::cli
