#pragma once
// Transfer learning on top of the Trainer: naming the new model's layers,
// freezing variables by regex, and restoring a subset of a TensorFlow
// checkpoint into the freshly initialised model. Together with the
// frozen-layer cache (host/train/frozen_cache.h) this is the whole workflow of
// `graft train --init-from`:
//
//   ModelSpec spec = make_mlp_spec(784, {300, 50, 50, 20}, 5, relu);
//   freeze_variables(spec, {"hidden[123]"});                  // TF var_list
//   Trainer trainer(*backend, spec, optimizer, options);      // built, initialised
//   RestoreOptions restore;
//   restore.restore = {"hidden[123]"};                        // Saver(reuse_vars_dict)
//   RestorePlan plan = restore_into(trainer, BundleReader::open(ckpt), restore);
//   std::cout << plan.table();
//   PreparedData data = prepare_training_data(*backend, trainer.spec(), dataset);
//   trainer.fit(data.view());                                 // hidden1-3 cached
//   trainer.save("new/model.ckpt");
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "host/model/model_spec.h"
#include "host/restore/restore_plan.h"
#include "host/train/trainer.h"

namespace graft {

// Renames the layers of `spec`, bottom to top (hidden layers, then the
// output layer): variable names become NAME/kernel and NAME/bias. Throws
// graft::Error when the count differs from the number of layers, or a name
// is empty, repeated, or not a valid variable scope.
void set_layer_names(ModelSpec& spec, const std::vector<std::string>& names);

// Freezes (LayerSpec::kernel_trainable / bias_trainable = false) every
// variable that one of `regexes` selects, matched like --restore: the whole
// name or a whole leading scope ("hidden[123]" freezes hidden1/kernel and
// hidden1/bias). Returns the frozen names in model order. A regex that
// selects nothing is an error listing the closest variable names.
//
// A frozen batch norm (its moving statistics selected) runs in inference
// mode with fixed statistics by default (the Keras rule: a frozen layer's
// features do not change under the layers trained on them);
// frozen_batch_norm_updates_statistics keeps TF1's behaviour instead (batch
// statistics in training, moving averages updated: only gamma and beta freeze).
struct FreezeOptions {
  bool frozen_batch_norm_updates_statistics = false;
};
std::vector<std::string> freeze_variables(ModelSpec& spec, const std::vector<std::string>& regexes,
                                          const FreezeOptions& options = {});

// plan_restore over the trainer's table, then apply_restore_plan into its
// backend. Returns the plan (print plan.table()).
RestorePlan restore_into(Trainer& trainer, const BundleReader& reader, const RestoreOptions& options);

}  // namespace graft
