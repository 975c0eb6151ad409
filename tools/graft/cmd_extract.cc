// graft extract: copy a checkpoint, keeping only some variables and renaming
// them, in TF's format (byte-identical to the source when nothing changes).
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/error.h"
#include "checkpoint/printable.h"
#include "checkpoint/extract.h"
#include "host/model/model_io.h"
#include "tools/graft/commands.h"

namespace graft::cli {
namespace {

struct ExtractCliOptions {
  std::string src;
  std::string dst;
  ExtractOptions options;
  bool dry_run = false;
};

// Names are escaped for the terminal (checkpoint/printable.h).
void print_plan(const std::vector<ExtractedTensor>& tensors) {
  std::size_t w = 0;
  for (const auto& t : tensors) w = std::max(w, printable(t.source).size());
  for (const auto& t : tensors) {
    const std::string source = printable(t.source);
    if (t.source == t.name) {
      std::printf("  %s\n", source.c_str());
    } else {
      std::printf("  %s%s -> %s\n", source.c_str(), std::string(w - source.size(), ' ').c_str(),
                  printable(t.name).c_str());
    }
  }
}

int run_extract(const ExtractCliOptions& o) {
  std::error_code ec;
  if (o.dst.empty() || o.dst.back() == '/' || std::filesystem::is_directory(o.dst, ec)) {
    throw Error("destination " + o.dst + " must be a checkpoint prefix such as DIR/model.ckpt, not a directory");
  }
  if (o.dry_run) {
    const BundleReader r = BundleReader::open(o.src);
    if (!r.resolution_note().empty()) std::fprintf(stderr, "graft extract: %s\n", r.resolution_note().c_str());
    const auto plan = plan_extract(r, o.options);
    std::printf("would copy %zu of %zu variables to %s:\n", plan.size(), r.entries().size(), o.dst.c_str());
    print_plan(plan);
    return 0;
  }
  ExtractOptions options = o.options;
  options.rewrite_model_description = [](const std::string& text, const std::map<std::string, std::string>& names)
      -> std::optional<std::string> {
    const auto model = renamed_model(model_from_json(text, "model description"), names);
    if (!model) return std::nullopt;
    return model_to_json(*model);
  };
  const ExtractResult result = extract_checkpoint(o.src, o.dst, options);
  if (!result.resolution_note.empty()) std::fprintf(stderr, "graft extract: %s\n", result.resolution_note.c_str());
  std::printf("copied %zu variables to %s:\n", result.tensors.size(), o.dst.c_str());
  print_plan(result.tensors);
  if (result.object_graph_rewritten) {
    std::printf("updated _CHECKPOINTABLE_OBJECT_GRAPH to the kept and renamed keys\n");
  }
  if (result.model_description == "rewritten") {
    std::printf("updated graft's model description to the renamed variables\n");
  } else if (result.model_description == "left out") {
    std::printf("left out graft's model description: the copy does not hold every variable of the recorded model\n");
  }
  return 0;
}

}  // namespace

void register_extract(CLI::App& app) {
  auto opts = std::make_shared<ExtractCliOptions>();
  CLI::App* sub = app.add_subcommand(
      "extract",
      "Copy a TensorFlow checkpoint, keeping only some variables and renaming them");
  sub->add_option("src", opts->src,
                  "Source checkpoint: prefix, one of its files, a directory with a `checkpoint` file, or a TF2 SavedModel")
      ->required();
  sub->add_option("dst", opts->dst, "Destination prefix, e.g. out/model.ckpt (writes .index and .data-00000-of-00001)")
      ->required();
  sub->add_option("--select", opts->options.select,
                  "Keep variables whose whole name matches this regex (ECMAScript); repeatable, a variable "
                  "matching any is kept; each must match at least one variable")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_option("--rename", opts->options.rename,
                  "REGEX=REPLACEMENT, applied with std::regex_replace ($1, $2 for groups); repeatable, the first "
                  "rule whose regex occurs in a name renames it; write \\= for a literal '=' in REGEX")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_flag("--dry-run", opts->dry_run, "Print what would be copied and renamed; write nothing");
  sub->footer(
      "The copy is a TensorFlow checkpoint (TF reads it); with no options it is byte-identical to\n"
      "the source. Data order follows the source (TF1: name order; TF2: object-graph order, graph\n"
      "last). For TF2 checkpoints the object graph is kept in step with dropped and renamed keys.\n"
      "Errors (exit 1): a --select matching nothing, two variables renamed to one name, a bad regex.\n"
      "Examples:\n"
      "  graft extract old/model.ckpt new/base.ckpt --select 'hidden[1-3]/.*'\n"
      "  graft extract scoped/ fixed/model.ckpt --rename '^dnn/(.*)/kernal$=$1/kernel' --rename '^dnn/='");
  sub->callback([opts] { run_guarded("extract", [opts] { return run_extract(*opts); }); });
}

}  // namespace graft::cli
