// graft export CKPT --onnx FILE.onnx: the checkpoint's dense network as an
// ONNX inference graph (host/export/onnx_export.h), from its recorded model,
// its TensorFlow graph, or rebuilt from its variables with what was assumed
// said on stderr.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/error.h"
#include "host/export/onnx_export.h"
#include "host/model/model_io.h"
#include "host/restore/checkpoint_layers.h"
#include "host/restore/checkpoint_model_resolution.h"
#include "tools/graft/commands.h"

namespace graft::cli {
namespace {

struct ExportFlags {
  std::string checkpoint, onnx;
  std::string activation;
  std::optional<double> input_scale;
  bool activation_given = false;
};

int run_export(const ExportFlags& f) {
  CheckpointModelQuery query;
  if (f.activation_given) {
    query.activation = parse_activation(f.activation);
    if (!query.activation) throw Error("unknown activation '" + f.activation + "'");
  }
  query.option_name = cli_option_name;
  const BundleReader reader = BundleReader::open(f.checkpoint);
  if (!reader.resolution_note().empty()) std::fprintf(stderr, "%s\n", reader.resolution_note().c_str());
  const ResolvedCheckpointModel resolved = resolve_checkpoint_model(reader, query);
  const CheckpointModel& model = resolved.model;
  OnnxExportInput input;
  if (resolved.recorded) {
    if (f.input_scale) {
      throw Error("--input-scale is for checkpoints that do not record their model; " + reader.prefix() +
                  " records it (see graft inspect)");
    }
    const ModelDescription& recorded = *resolved.recorded;
    input.scale = recorded.input.scale;
    input.mean = recorded.input.mean;
    input.stddev = recorded.input.stddev;
    input.output_labels = recorded.output.labels;
    input.class_names = recorded.output.class_names;
  } else if (const ModelInput* graph_input = resolved.input()) {
    // The graph scales (or standardizes) its input itself: the ONNX model does as it did.
    if (f.input_scale && (*f.input_scale != graph_input->scale || !graph_input->mean.empty())) {
      throw Error(fmt::format("--input-scale {} contradicts the {}, which transforms its input itself ({}): leave "
                              "--input-scale out",
                              *f.input_scale, graph_input->read_from, input_transform_text(*graph_input)));
    }
    input.scale = graph_input->scale;
    input.mean = graph_input->mean;
    input.stddev = graph_input->stddev;
    for (const std::string& n : resolved.notes) std::fprintf(stderr, "%s\n", n.c_str());
    std::fprintf(stderr, "input: %s, as the %s computes it\n", input_transform_text(*graph_input).c_str(),
                 graph_input->read_from.c_str());
  } else {
    input.scale = f.input_scale.value_or(1.0);
    for (const std::string& n : resolved.notes) std::fprintf(stderr, "%s\n", n.c_str());
    if (resolved.graph) {
      for (const std::string& a : resolved.graph->assumptions) {
        if (std::find(resolved.notes.begin(), resolved.notes.end(), "assumed: " + a) != resolved.notes.end()) continue;
        std::fprintf(stderr, "assumed: %s\n", a.c_str());
      }
    }
    if (!f.input_scale) {
      std::fprintf(stderr, "assumed: the inputs are used as given (the checkpoint does not record its input scale; "
                   "pass --input-scale)\n");
    }
  }
  const std::string bytes = onnx_model(reader, model, input);
  std::ofstream out(f.onnx, std::ios::binary);
  if (!out) throw Error(f.onnx + ": cannot create");
  out << bytes;
  out.close();
  if (!out) throw Error(f.onnx + ": write error");
  std::fprintf(stderr, "model: %s from %s\nwrote %s (%zu bytes): input \"input\" [N, %lld], outputs "
               "\"probabilities\" and \"logits\" [N, %lld]\n",
               model.spec.describe().c_str(), reader.prefix().c_str(), f.onnx.c_str(), bytes.size(),
               static_cast<long long>(model.spec.inputs()), static_cast<long long>(model.spec.outputs()));
  return 0;
}

}  // namespace

void register_export(CLI::App& app) {
  auto flags = std::make_shared<ExportFlags>();
  CLI::App* sub = app.add_subcommand("export", "Write a checkpoint's dense network as an ONNX model");
  sub->add_option("checkpoint", flags->checkpoint, "Checkpoint prefix, one of its files, a folder with a `checkpoint` file, or a TF2 SavedModel folder")
      ->required();
  sub->add_option("--onnx", flags->onnx, "The ONNX file to write")->required();
  sub->add_option("--activation", flags->activation,
                  "Activation of every layer but the last (relu, elu, selu, leaky_relu:ALPHA, tanh, sigmoid), needed "
                  "for checkpoints that record no model and have no .meta graph");
  sub->add_option("--input-scale", flags->input_scale,
                  "For checkpoints that do not record their input: raw values x SCALE (default 1)");
  sub->callback([flags, sub] {
    flags->activation_given = sub->get_option("--activation")->count() > 0;
    run_guarded("export", [flags] { return run_export(*flags); });
  });
}

}  // namespace graft::cli
