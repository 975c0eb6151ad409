// graft eval CKPT: the flags become an EvalJob (host/jobs/eval_job.h), whose
// result (loss, top-1 accuracy, what was read or assumed) is printed.
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checkpoint/error.h"
#include "host/data/dataset.h"
#include "host/jobs/eval_job.h"
#include "host/model/model_description.h"
#include "tools/graft/commands.h"
#include "tools/graft/cuda_flags.h"
#include "tools/graft/data_flags.h"

namespace graft::cli {
namespace {

struct EvalFlags {
  std::string checkpoint;
  std::string data = kDefaultDataDir;
  std::vector<std::string> layers;
  std::string activation;
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

// Flags -> the library's job (host/jobs/eval_job.h).
EvalJob eval_job(const EvalFlags& f) {
  EvalJob job;
  job.checkpoint = f.checkpoint;
  if (f.activation_given) {
    job.model.activation = parse_activation(f.activation);
    if (!job.model.activation) throw Error("unknown activation '" + f.activation + "'");
  }
  job.model.layers = f.layers;
  job.model.renames = f.renames;
  job.model.option_name = [](const std::string& field) {
    if (field == "classes") return std::string("--classes");
    if (field == "input_scale") return std::string("--input-scale");
    return cli_option_name(field);
  };
  job.data_dir = f.data;
  if (is_data_file(f.data)) {
    job.data_file = file_options(f.data, f.data_flags, DatasetOptions{}, f.seed, std::nullopt);
  } else {
    check_folder_flags(f.data, f.data_flags);
  }
  if (!f.classes.empty()) job.classes = parse_class_list(f.classes);
  job.device = f.device;
  job.threads = f.threads;
  job.cuda = cuda_options(f.cuda);
  job.per_class = f.json || f.per_class;
  return job;
}

int run_eval(const EvalFlags& f) {
  const EvalJobResult r = run_eval_job(eval_job(f));
  const CheckpointModel& model = r.model.model;
  if (!r.resolution_note.empty()) std::fprintf(stderr, "%s\n", r.resolution_note.c_str());
  std::fprintf(stderr, "%s\nmodel: %s from %s (%s)\ndata: %lld test images from %s\n", r.device_note.c_str(),
               model.spec.describe().c_str(), r.prefix.c_str(), r.model.how.c_str(), static_cast<long long>(r.samples),
               f.data.c_str());
  for (const std::string& n : r.notes) std::fprintf(stderr, "%s\n", n.c_str());
  // The model's summary heads the result (on stderr, like the lines above:
  // stdout stays the result alone, for scripts).
  if (r.model.known() && !f.json) std::fprintf(stderr, "%s", r.model.known()->summary().c_str());
  if (f.json) {
    const std::optional<ModelDescription>& known = r.model.known();
    nlohmann::json j;
    j["checkpoint"] = r.prefix;
    j["accuracy"] = r.accuracy;
    j["loss"] = r.loss;
    j["correct"] = r.correct;
    j["samples"] = r.samples;
    j["activation"] = activation_name(model.spec.layers.front().activation);
    j["model_recorded"] = r.model.recorded.has_value();
    j["model_source"] = known ? known->source : "checkpoint variables";
    j["notes"] = r.notes;
    if (!r.output_labels.empty()) j["output_labels"] = r.output_labels;
    j["per_class"] = r.per_class->json();
    j["device"] = r.device;
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
    std::printf("accuracy: %.4f\nloss: %.4f\n%s", r.accuracy, r.loss, r.per_class ? r.per_class->text().c_str() : "");
  }
  return 0;
}

}  // namespace

void register_eval(CLI::App& app) {
  auto flags = std::make_shared<EvalFlags>();
  CLI::App* sub = app.add_subcommand("eval", "Evaluate a checkpoint's dense network on the test split (t10k)");
  sub->add_option("checkpoint", flags->checkpoint, "Checkpoint prefix, one of its files, a folder with a `checkpoint` file, or a TF2 SavedModel folder")
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
                  "Activation of every layer but the last (relu, elu, selu, leaky_relu:ALPHA, tanh, sigmoid), needed "
                  "for checkpoints that record no model and have no .meta graph; elsewhere it must agree with them");
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
