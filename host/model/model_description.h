#pragma once
// The model description: what a model *is*, as data. Ordered nodes (today
// dense layers with their activation; the node kinds are the op table's),
// each with the TensorFlow variables that hold its leaves; the input (feature
// count and how raw values are scaled); the output (how many classes, and
// which original labels they stand for: a head trained on classes 5-9 has
// labels {5, 6, 7, 8, 9}); the loss; the optimizer with its
// hyper-parameters; which variables were frozen. Where a fact was not read
// but assumed, `assumptions` says so in words, and `source` says where the
// description came from.
//
// graft writes it into every checkpoint it saves (host/model/model_io.h) and
// reads it back for eval, inspect and resume, so no flag has to be repeated
// and a forgotten flag cannot silently become a default.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "host/model/activation.h"
#include "host/model/lr_schedule_spec.h"
#include "host/model/optimizer_config.h"
#include "host/model/regularization.h"

namespace graft {

enum class NodeKind { kDense, kBatchNorm, kDropout };

// "dense", "batch_norm", "dropout"; parse_node_kind is its inverse (nullopt for unknown kinds).
const char* node_kind_name(NodeKind kind);
std::optional<NodeKind> parse_node_kind(const std::string& text);

// tf.layers.batch_normalization / Keras BatchNormalization on dense
// activations (axis -1): y = act(gamma * (x - mean) / sqrt(var + epsilon) +
// beta), with the batch's statistics in training and the moving ones in
// evaluation. Placement: the node carries the activation when it comes
// before it (dense with the identity, then batch norm with the activation);
// after it, the dense node has the activation and this one the identity.
struct BatchNormAttrs {
  // moving = moving * momentum + batch * (1 - momentum). A double, as TF's
  // Python float: the kernels take decay = float32(1 - momentum) computed in double.
  double momentum = 0.99;
  float epsilon = 0.001f;
  bool center = true;       // beta exists
  bool scale = true;        // gamma exists
  // Frozen (its statistics in `frozen`): false (default, the Keras rule)
  // runs it in inference mode with fixed moving statistics; true keeps TF1's
  // behaviour: batch statistics in training, moving averages still updated.
  bool frozen_updates_statistics = false;
};

struct ModelNode {
  NodeKind kind = NodeKind::kDense;
  std::string name;       // variable scope: "hidden1", "dnn/outputs", "hidden1/batch_normalization"
  int64_t units = 0;      // outputs of the node (batch norm, dropout: the same as its inputs)
  Activation activation;  // dense: act(x·W + b); batch norm: act(BN(x)); dropout: identity
  // The checkpoint variable holding each leaf: {"kernel": "hidden1/kernel",
  // "bias": "hidden1/bias"}. Keys are the op table's leaf names (batch norm
  // without scale has no gamma, without center no beta; dropout has none).
  std::map<std::string, std::string> variables;
  BatchNormAttrs batch_norm;  // batch_norm nodes only
  float rate = 0.0f;          // dropout nodes only: the fraction of units dropped in training, [0, 1)
  // L1/L2 penalties on its kernel and bias, max-norm of its kernel
  // (host/model/regularization.h); none by default.
  NodeRegularizer regularizer;
};

struct ModelInput {
  int64_t features = 0;
  // Raw feature values become network inputs as x = raw * scale (IDX pixels:
  // 1/255), then (x - mean[i]) / stddev[i] when mean is not empty.
  double scale = 1.0 / 255.0;
  std::vector<float> mean, stddev;
  // Where scale, mean and stddev were read when the network's own graph
  // defines them ("TensorFlow graph dir/model.ckpt.meta": it scaled its
  // placeholder inside, host/restore/graph_input_transform.h); empty when
  // graft chose them from its data (or assumed them).
  std::string read_from;
};

// The scale an IDX folder's pixel bytes take for `input`
// (DatasetOptions::scale): nullopt for graft's fixed byte / 255, which every
// input graft chose itself has; the input's scale when its graph defines
// another (read_from set).
std::optional<double> idx_pixel_scale(const ModelInput& input);

// "raw value x 0.00392157", plus ", then standardized per feature" when it
// is: the transform in words, for messages.
std::string input_transform_text(const ModelInput& input);

struct ModelOutput {
  int64_t classes = 0;
  // labels[i] is the original label output i stands for, or kNoClass for an
  // output no class was trained on (--outputs 10 with --classes 5-9); the
  // same size as `classes`.
  std::vector<int> labels;
  // Where the data named its classes (a CSV label column of strings): the
  // name of original label k is class_names[k]. Empty: labels are numbers.
  std::vector<std::string> class_names;
  // The CSV column the labels came from (empty: not a CSV, or "label"):
  // eval and predict find the labels there without --label-column.
  std::string label_column;
};
inline constexpr int kNoClass = -1;

struct ModelDescription {
  static constexpr int kFormatVersion = 1;

  ModelInput input;
  std::vector<ModelNode> nodes;
  ModelOutput output;
  std::string loss = "sparse_softmax_cross_entropy";
  std::optional<OptimizerConfig> optimizer;  // absent when unknown
  // optimizer->schedule plateau: its state at the save (the learning rate it
  // reached is optimizer->learning_rate), so a resume continues it.
  PlateauState plateau;
  std::vector<std::string> frozen;           // variables that get no updates and no slots
  // Checkpoint names of the optimizer's scalars and the step where they are
  // not graft's defaults ("beta1_power" -> "train/beta1_power" after resuming
  // a TF checkpoint whose Saver named them so): saves keep those names, so a
  // tf.train.Saver over the original graph restores graft's checkpoint.
  std::map<std::string, std::string> scalar_names;
  // After resuming a checkpoint that holds several optimizers' slots (slot
  // sets, checkpoint/slot_sets.h): the set the run continues ("Adam2") and
  // each trained variable's slots under their checkpoint names
  // ("outputs/kernel" -> outputs/kernel/Adam2, outputs/kernel/Adam2_1).
  // Saves keep those names, and a later resume continues the same slots.
  std::string slot_set;
  std::map<std::string, std::vector<std::string>> slot_names;
  std::string source;                        // "graft", "TensorFlow graph dir/model.ckpt.meta", ...
  std::vector<std::string> assumptions;      // facts guessed rather than read, in words
  std::vector<std::string> read;             // facts read from the source that a reader may doubt (epsilon, momentum, rates)

  // Throws graft::Error naming the field: no nodes, a size that is not
  // positive, an output size that differs from the last node's units,
  // labels that are repeated or negative or not one per class, a dense node
  // without its kernel or bias variable, a mean/stddev of the wrong size or
  // a non-positive stddev, a non-finite hyper-parameter.
  void validate() const;

  // Parameter count of a node (dense: fan_in * units + units; batch norm:
  // one per feature and leaf, moving statistics included; dropout: 0).
  int64_t node_parameters(std::size_t node) const;
  int64_t node_inputs(std::size_t node) const;  // input.features, or the previous node's units

  // A Keras-summary()-like table: layer, kind, output, activation,
  // parameters, trainable/frozen; then input, output labels, loss,
  // optimizer and any assumptions.
  std::string summary() const;
  // "784-300-100-10 (elu)" (the activation of the first hidden node).
  std::string architecture() const;
};

// JSON (nlohmann-json), the form stored in checkpoints. from_json throws
// graft::Error naming `origin` and the field on anything malformed or of a
// newer format version.
std::string model_to_json(const ModelDescription& model);
ModelDescription model_from_json(const std::string& text, const std::string& origin);

// The original labels a head stands for, in output order, without unused outputs.
std::vector<int> trained_classes(const ModelDescription& model);

// "5-9" for a contiguous run, else "0,2,4"; unused outputs are counted.
std::string label_list_text(const std::vector<int>& labels);

}  // namespace graft
