#pragma once
// Keras's keras_metadata.pb, the file model.save() writes into a SavedModel
// directory: a SavedMetadata proto (checkpoint/proto/saved_metadata.proto)
// with one SavedObject per Keras object, whose `metadata` is JSON. The
// model's node (node_path "root", identifier _tf_keras_sequential,
// _tf_keras_network or _tf_keras_model) holds config.layers[]: each layer's
// class_name and config (units, activation, use_bias; BatchNormalization's
// axis, momentum, epsilon, center, scale; Dropout's rate). Each layer's own
// node (_tf_keras_layer) says where its variables hang in the object graph
// (node_path "root.layer_with_weights-0").
//
// This parses that into the layers graft can run: Dense, BatchNormalization
// (on the feature axis) and Dropout, with Activation, ReLU, LeakyReLU and
// ELU layers folded into the layer before them, and InputLayer and Flatten
// read for the input's shape only. Anything else — Conv2D, LSTM, a nested
// model, a functional model with two inputs or a branch, an activation
// graft has not (gelu, swish, ...), a dense layer without bias — is an
// error naming the file, the layer and what it is. Bytes that are not a
// SavedMetadata, or JSON that is not what Keras writes, are an error naming
// the file. Nothing here reads variables (host/restore/keras_model.h does).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "host/model/activation.h"
#include "host/model/model_description.h"

namespace graft {

struct KerasLayer {
  NodeKind kind = NodeKind::kDense;  // Dense, BatchNormalization or Dropout
  std::string class_name;            // as Keras names it: "Dense", "BatchNormalization", "Dropout"
  std::string name;                  // config.name: "dense_1"
  Activation activation{ActivationKind::kIdentity};  // its own, or that of the activation layer after it
  std::string activation_from;       // the activation layer it came from ("re_lu"), empty when its own
  bool softmax = false;              // activation "softmax" (the output layer only: graft's probabilities)
  int64_t units = 0;                 // Dense only
  BatchNormAttrs batch_norm;         // BatchNormalization only (axis checked: the feature axis)
  double rate = 0.0;                 // Dropout only
  bool trainable = true;
  // Where its variables hang below the root, from its own node's node_path
  // ("root.layer_with_weights-0" -> {"layer_with_weights-0"}); empty when the
  // metadata has no node for it (then layer_with_weights-<weight_index>).
  std::vector<std::string> object_path;
  int weight_index = -1;  // Dense and BatchNormalization: N among the layers with weights, in model order
};

struct KerasModel {
  std::string origin;      // the file, for messages
  std::string class_name;  // "Sequential", "Functional", "Model"
  std::string name;        // "sequential"
  std::vector<KerasLayer> layers;  // in model order
  // Features per row from the input's batch shape ([null, 784], or
  // [null, 28, 28] before a Flatten), when the metadata records it.
  std::optional<int64_t> input_features;
  std::string input_shape;  // "[None, 28, 28]", as recorded (empty when not)
  std::string loss;         // training_config.loss when it is a name ("sparse_categorical_crossentropy")
};

// Throws graft::Error naming `origin` (the file) on anything malformed or
// that graft cannot represent. Never allocates more than the input's size
// suggests; nlohmann-json parses the JSON without recursion.
KerasModel parse_keras_metadata(std::string_view bytes, const std::string& origin);

}  // namespace graft
