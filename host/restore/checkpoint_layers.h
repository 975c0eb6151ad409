#pragma once
// Recovering a dense network from a checkpoint's variables (for `graft eval`
// and for restoring): kernel/bias pairs NAME/kernel [fan_in, fan_out] and
// NAME/bias [fan_out], after rename rules, ordered by an explicit list or by
// natural order of NAME (hidden2 before hidden10) with an outputs/output/
// logits scope last. TF2 keys (".../.ATTRIBUTES/VARIABLE_VALUE") are read by
// their variable path, so Keras checkpoints work too.
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "host/model/activation.h"
#include "host/backend.h"
#include "host/model/model_description.h"
#include "host/model/model_spec.h"
#include "host/restore/rename_rules.h"

namespace graft {

struct CheckpointDenseLayer {
  std::string name;        // the scope after renames, e.g. "hidden1"
  std::string kernel_key;  // keys as stored in the checkpoint
  std::string bias_key;
  int64_t fan_in = 0;
  int64_t fan_out = 0;
};

struct CheckpointModelOptions {
  std::vector<RenameRule> renames;
  std::vector<std::string> layers;  // layer names after renames, in model order; empty: all, natural order
  Activation activation;            // of every layer but the last (identity)
};

struct CheckpointModel {
  ModelSpec spec;  // layer l of spec is layers[l]
  std::vector<CheckpointDenseLayer> layers;
};

// Every dense layer the checkpoint holds (model variables only), natural order.
std::vector<CheckpointDenseLayer> find_dense_layers(const BundleReader& reader,
                                                    const std::vector<RenameRule>& renames);

// The model the options describe. Throws graft::Error when a layer is
// missing or malformed, when consecutive layers do not fit together, or when
// (without an explicit layer list) some model variable belongs to no dense
// layer: ignoring it silently would evaluate a different model.
CheckpointModel model_from_checkpoint(const BundleReader& reader, const CheckpointModelOptions& options);

// The model a checkpoint's own description records (host/model/model_io.h):
// its layer order, names, variables and activations, with every variable
// checked against the checkpoint (present, and the recorded shape).
CheckpointModel model_from_description(const BundleReader& reader, const ModelDescription& description);

// Writes every layer's kernel and bias into a backend built for model.spec.
void load_checkpoint_weights(Backend& backend, const BundleReader& reader, const CheckpointModel& model);

}  // namespace graft
