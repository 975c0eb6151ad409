// Uses an installed graft: writes a small TF checkpoint (hidden1..4 and
// outputs), restores hidden[123] into a new model with a different head via
// the restore plan, prints the plan's table, and checks the restored values.
#include <cstdio>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/bundle_writer.h"
#include "graft/version.h"
#include "host/backend.h"
#include "host/model/model_spec.h"
#include "host/model/parameters.h"
#include "host/restore/restore_plan.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: restore_layers CHECKPOINT_PREFIX\n");
    return 2;
  }
  const std::string prefix = argv[1];
  std::printf("graft %s\n", GRAFT_VERSION);

  // The "pretrained" network: 6 -> 5 -> 4 -> 3 -> 3 -> 2, TF1 names.
  const std::vector<int64_t> widths = {6, 5, 4, 3, 3, 2};
  const std::vector<std::string> layers = {"hidden1", "hidden2", "hidden3", "hidden4", "outputs"};
  {
    graft::BundleWriter writer(prefix);
    for (std::size_t l = 0; l < layers.size(); ++l) {
      std::vector<float> kernel(static_cast<std::size_t>(widths[l] * widths[l + 1]));
      for (std::size_t i = 0; i < kernel.size(); ++i) kernel[i] = static_cast<float>(l + 1) + 0.01f * i;
      const std::vector<float> bias(static_cast<std::size_t>(widths[l + 1]), -static_cast<float>(l + 1));
      writer.add_float(layers[l] + "/kernel", {widths[l], widths[l + 1]}, kernel.data());
      writer.add_float(layers[l] + "/bias", {widths[l + 1]}, bias.data());
    }
    writer.finish();
  }

  // The new model keeps hidden1..3, gets a wider hidden4 and a 4-class head.
  const graft::ModelSpec spec =
      graft::make_mlp_spec(6, {5, 4, 3, 7}, 4, graft::Activation{graft::ActivationKind::kRelu});
  const auto table = graft::parameter_table(spec, graft::OptimizerKind::kSgd);
  auto backend = graft::make_cpu_backend(1);
  backend->build(spec.backend_shapes(), graft::OptimizerConfig{}, 8);
  graft::initialize_parameters(*backend, table, 42);

  const graft::BundleReader reader = graft::BundleReader::open(prefix);
  graft::RestoreOptions options;
  options.restore = {"hidden[123]"};
  const graft::RestorePlan plan = graft::plan_restore(table, reader, options);
  graft::apply_restore_plan(*backend, reader, table, plan);
  std::printf("%s", plan.table().c_str());

  // hidden2/kernel (parameter 2) must now hold the checkpoint's values.
  std::vector<float> values(5 * 4);
  backend->read_param(2, values.data());
  bool same = true;
  for (std::size_t i = 0; i < values.size(); ++i) same = same && values[i] == 2.0f + 0.01f * i;
  std::printf("hidden2/kernel %s\n", same ? "matches the checkpoint" : "DIFFERS from the checkpoint");
  return same && plan.restored_count() == 6 ? 0 : 1;
}
