#pragma once
// The network a Keras SavedModel defines: the layers of its
// keras_metadata.pb (host/restore/keras_metadata.h) over the variables of
// its bundle DIR/variables/variables, as a model description whose nodes
// name the bundle's own keys. Each layer's variables are found by the path
// its node records below the root (layer_with_weights-N/kernel), through
// the object graph (_CHECKPOINTABLE_OBJECT_GRAPH): a SavedModel stores them
// as layer_with_weights-N/kernel/.ATTRIBUTES/VARIABLE_VALUE or, when TF
// reached them through the model's variables list first,
// variables/K/.ATTRIBUTES/VARIABLE_VALUE. Every variable's shape is checked
// against the metadata (units, the previous layer's width, the input shape).
// What the metadata does not record (input scaling, which label each output
// stands for) is said as an assumption; epsilon, momentum and rates it does
// record are said as read.
#include <optional>

#include "checkpoint/bundle_reader.h"
#include "host/model/model_description.h"
#include "host/restore/keras_metadata.h"

namespace graft {

// nullopt when `reader` is not a SavedModel's variables or the SavedModel
// has no keras_metadata.pb. Throws graft::Error naming the file for a file
// it cannot use (as parse_keras_metadata and model_from_keras).
std::optional<ModelDescription> model_from_keras_metadata(const BundleReader& reader);

// Throws graft::Error naming the layer for a variable that is missing, or
// whose shape contradicts the metadata (both shapes said).
ModelDescription model_from_keras(const KerasModel& keras, const BundleReader& reader);

}  // namespace graft
