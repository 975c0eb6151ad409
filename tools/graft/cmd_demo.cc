// graft demo: the transfer-learning story on Fashion-MNIST (what `make demo`
// runs). The workflow is tools/graft/demo/transfer_demo.h; this file only parses flags,
// picks the device and prints.
#include <cstdio>
#include <memory>
#include <string>

#include "checkpoint/error.h"
#include "host/device_select.h"
#include "tools/graft/demo/demo_report.h"
#include "tools/graft/demo/transfer_demo.h"
#include "tools/graft/commands.h"

namespace graft::cli {
namespace {

struct DemoFlags {
  std::string device = "auto";
  int threads = 0;
  DemoOptions options;
  bool quick = false;
  bool full = false;
};

int run_demo(DemoFlags f) {
  if (f.quick && f.full) throw Error("--quick and --full contradict each other");
  if (f.quick) f.options.make_quick();
  if (f.full) f.options.make_full();
  SelectedBackend selected = select_backend(f.device, f.threads);
  std::printf("%s\n", selected.note.c_str());
  std::fflush(stdout);
  const DemoResult result = run_transfer_demo(*selected.backend, f.options, [](const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  });
  // The header (restore table, cache decision) was logged before the runs.
  std::printf("\n%s", format_demo_results(result).c_str());
  return 0;
}

}  // namespace

void register_demo(CLI::App& app) {
  auto flags = std::make_shared<DemoFlags>();
  CLI::App* sub = app.add_subcommand(
      "demo",
      "The transfer-learning story on Fashion-MNIST: train a source network on a coarse labelling of the images "
      "(tops, bottoms, footwear, bags), reuse its hidden1 for the ten classes with few labelled images per class "
      "(frozen and cached, fine-tuned, from scratch), and draw the learning curves");
  DemoOptions& o = flags->options;
  sub->add_option("--device", flags->device, "cpu, cuda or auto (the GPU when there is one)")->capture_default_str();
  sub->add_option("--threads", flags->threads, "CPU threads (default: all cores)")
      ->check(CLI::Range(0, max_cpu_threads()));
  sub->add_option("--data", o.data_dir, "Fashion-MNIST folder (the four IDX files)")->capture_default_str();
  sub->add_option("--out", o.out_dir, "Where checkpoints, pictures, TensorBoard runs and report.txt go")
      ->capture_default_str();
  sub->add_option("--logdir", o.logdir, "TensorBoard log directory (default: OUT/tensorboard)");
  sub->add_option("--source-classes", o.source_classes, "Original classes of the source task")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--source-labels", o.source_labels,
                  "The source label of each source class (default with --source-classes: 0, 1, 2, ...)")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--source-description", o.source_description, "What the source task is, for the report");
  sub->add_option("--target-classes", o.target_classes, "Original classes of the new task")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--reuse", o.reused_layers,
                  "Hidden layers reused from the source network (1: hidden1, 3: hidden1-3)")
      ->capture_default_str();
  sub->add_option("--source-epochs", o.source_epochs, "Epochs of the source network")->capture_default_str();
  sub->add_option("--per-class", o.per_class_grid, "Labelled images per class, the learning curve's points")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--rates", o.learning_rates, "Adam learning rates tried by each variant (chosen on validation)")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--epochs", o.max_epochs, "Most epochs of each run")->capture_default_str();
  sub->add_option("--patience", o.patience, "Early stopping: epochs without a lower validation loss")
      ->capture_default_str();
  sub->add_option("--patience-steps", o.patience_steps,
                  "Early stopping waits at least this many training steps (small sets have one-step epochs)")
      ->capture_default_str();
  sub->add_option("--validation", o.validation, "Validation images of the new task (never trained on)")
      ->capture_default_str();
  sub->add_option("--seeds", o.seeds, "Runs of each (N, variant, rate), with seeds SEED, SEED+1, ...")
      ->capture_default_str();
  sub->add_option("--seed", o.seed, "First seed")->capture_default_str();
  sub->add_option("--curves-at", o.curves_per_class,
                  "The training-curves picture's images per class (default: the smallest)");
  sub->add_flag("--quick", flags->quick, "Tiny budgets for a smoke test; the numbers mean nothing");
  sub->add_flag("--full", flags->full,
                "The complete grid: 10, 30, 100, 300, 1000 images per class, 3 seeds, 1000 validation images "
                "(many times the default run's time)");
  sub->callback([flags, sub] {
    // Other source classes without their labels: 0, 1, 2, ... (the default
    // coarse labels belong to the default classes).
    if (sub->count("--source-classes") > 0 && sub->count("--source-labels") == 0) flags->options.source_labels.clear();
    run_guarded("demo", [flags] { return run_demo(*flags); });
  });
}

}  // namespace graft::cli
