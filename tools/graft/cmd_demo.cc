// graft demo: the transfer-learning story on Fashion-MNIST (what `make demo`
// runs). The workflow is tools/graft/demo/transfer_demo.h; this file only parses flags,
// picks the device and prints.
#include <cstdio>
#include <memory>
#include <string>

#include "host/device_select.h"
#include "tools/graft/demo/transfer_demo.h"
#include "tools/graft/commands.h"

namespace graft::cli {
namespace {

struct DemoFlags {
  std::string device = "auto";
  int threads = 0;
  DemoOptions options;
  bool quick = false;
};

int run_demo(DemoFlags f) {
  if (f.quick) f.options.make_quick();
  SelectedBackend selected = select_backend(f.device, f.threads);
  std::printf("%s\n", selected.note.c_str());
  std::fflush(stdout);
  const DemoResult result = run_transfer_demo(*selected.backend, f.options, [](const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  });
  std::printf("\n%s", format_demo_report(result).c_str());
  return 0;
}

}  // namespace

void register_demo(CLI::App& app) {
  auto flags = std::make_shared<DemoFlags>();
  CLI::App* sub = app.add_subcommand(
      "demo",
      "The transfer-learning story on Fashion-MNIST: train a reference network on classes 0-4, reuse its hidden1-3 "
      "for classes 5-9 with 100 images per class (frozen and cached, fine-tuned, and from scratch), compare");
  DemoOptions& o = flags->options;
  sub->add_option("--device", flags->device, "cpu, cuda or auto (the GPU when there is one)")->capture_default_str();
  sub->add_option("--threads", flags->threads, "CPU threads (default: all cores)")
      ->check(CLI::Range(0, max_cpu_threads()));
  sub->add_option("--data", o.data_dir, "Fashion-MNIST folder (the four IDX files)")->capture_default_str();
  sub->add_option("--out", o.out_dir, "Where checkpoints, TensorBoard runs and report.txt go")->capture_default_str();
  sub->add_option("--logdir", o.logdir, "TensorBoard log directory (default: OUT/tensorboard)");
  sub->add_option("--reference-epochs", o.reference_epochs, "Epochs of the reference network")->capture_default_str();
  sub->add_option("--epochs", o.max_epochs, "Most epochs of each few-shot run")->capture_default_str();
  sub->add_option("--patience", o.patience, "Early stopping: epochs without a lower validation loss")
      ->capture_default_str();
  sub->add_option("--per-class", o.per_class, "Training images per new class")->capture_default_str();
  sub->add_option("--validation", o.few_shot_validation,
                  "Validation images of the new classes (kept apart from the training images)")
      ->capture_default_str();
  sub->add_option("--seeds", o.seeds, "Runs of each variant, with seeds SEED, SEED+1, ...")->capture_default_str();
  sub->add_option("--seed", o.seed, "First seed")->capture_default_str();
  sub->add_flag("--quick", flags->quick, "Tiny budgets for a smoke test (1 + 3 epochs, 1 seed); numbers mean nothing");
  sub->callback([flags] { run_guarded("demo", [flags] { return run_demo(*flags); }); });
}

}  // namespace graft::cli
