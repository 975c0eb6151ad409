#pragma once
// Recovering a dense network from a checkpoint's variables (for `graft eval`
// and for restoring): kernel/bias pairs NAME/kernel [fan_in, fan_out] and
// NAME/bias [fan_out], after rename rules, ordered by an explicit list or by
// natural order of NAME (hidden2 before hidden10) with an outputs/output/
// logits scope last. TF2 keys (".../.ATTRIBUTES/VARIABLE_VALUE") are read by
// their variable path, so Keras checkpoints work too; a SavedModel's
// variables/K keys by the layer_with_weights-N/LEAF path its object graph
// gives them (checkpoint/object_graph.h keras_layer_paths).
#include <map>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "host/model/activation.h"
#include "host/backend.h"
#include "host/model/model_description.h"
#include "host/model/model_spec.h"
#include "host/restore/rename_rules.h"

namespace graft {

// One node of the network as the checkpoint stores it. The name says
// "dense" because that came first: a batch-norm node has its leaves in
// leaf_keys ("gamma" -> "batch_normalization/gamma"), a dropout node none.
struct CheckpointDenseLayer {
  std::string name;        // the scope after renames, e.g. "hidden1"
  std::string kernel_key;  // keys as stored in the checkpoint
  std::string bias_key;
  int64_t fan_in = 0;
  int64_t fan_out = 0;
  NodeKind kind = NodeKind::kDense;
  std::map<std::string, std::string> leaf_keys;  // batch norm: leaf name -> stored key
};

// A batch normalization the checkpoint's variables hold, and the dense
// layer it follows. How the attachment is decided, from the names alone:
//  - a scope under a dense layer's ("hidden1/batch_normalization/...",
//    tf.contrib's "hidden1/BatchNorm/...") follows that layer;
//  - Keras TF2 keys number the layers with weights in model order
//    (layer_with_weights-0 dense, -1 its batch norm, ...): a batch norm
//    follows the dense layer numbered just below it;
//  - tf.layers' default scopes (batch_normalization, batch_normalization_1,
//    ...) are numbered in creation order: the k-th follows the k-th dense
//    layer when there is one per dense layer, or one per hidden layer;
//    any other count is ambiguous and refused, naming the variables.
struct CheckpointBatchNorm {
  std::string scope;     // after renames: "batch_normalization_1", "hidden1/BatchNorm"
  std::string after;     // the dense layer's scope it follows
  std::map<std::string, std::string> leaf_keys;  // "gamma", "beta", "moving_mean", "moving_variance" -> key
  int64_t units = 0;
};

struct CheckpointModelOptions {
  std::vector<RenameRule> renames;
  std::vector<std::string> layers;  // layer names after renames, in model order; empty: all, natural order
  Activation activation;            // of every layer but the last (identity)
};

struct CheckpointModel {
  ModelSpec spec;  // layer l of spec is layers[l]
  std::vector<CheckpointDenseLayer> layers;
  std::vector<std::string> assumptions;  // facts not in the variables (batch norm's placement, epsilon)
};

// The batch normalizations among the checkpoint's variables, attached to
// `dense` (the model's dense layers in order; see CheckpointBatchNorm).
// Throws graft::Error when a group lacks its moving statistics, when shapes
// disagree, or when the attachment is ambiguous.
std::vector<CheckpointBatchNorm> find_batch_norms(const BundleReader& reader, const std::vector<RenameRule>& renames,
                                                  const std::vector<CheckpointDenseLayer>& dense);

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
