#pragma once
// The model description in checkpoints, and its relation to the dense stack
// the backends train (ModelSpec).
//
// Where it lives: a scalar DT_STRING tensor `_graft_model_description`
// (checkpoint/names.h) holding the JSON of host/model/model_description.h,
// inside the bundle. Chosen over a sidecar file because it is saved by the
// same atomic write as the variables (a sidecar could be lost or go stale
// when a save is interrupted, or when TensorFlow rewrites the prefix), and it
// travels with every copy, rotation and extract of the bundle for free.
// TensorFlow ignores it: tf.train.Saver restores only its own variables, and
// TF2's object-based restore only the keys its object graph names.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "host/model/model_description.h"
#include "host/model/model_spec.h"

namespace graft {

// The description a checkpoint holds, or nullopt when it holds none (written
// by TensorFlow, or by a graft older than the description). Throws
// graft::Error naming the checkpoint when the tensor is present but malformed.
std::optional<ModelDescription> read_model_description(const BundleReader& reader);

// The dense stack a description stands for: node i becomes layer i with the
// node's name, units and activation; frozen variables become untrainable.
// Throws graft::Error for a node kind the backends cannot run yet, or for a
// dense node whose variables are not NAME/kernel and NAME/bias (evaluate such
// a model with model_from_checkpoint, which reads any variable names).
ModelSpec spec_from_model(const ModelDescription& model);

// The description of a dense stack: features = spec.inputs(), the nodes'
// variables NAME/kernel and NAME/bias, frozen = the untrainable variables,
// labels[i] = the original label of output i (empty: 0..outputs-1).
ModelDescription model_from_spec(const ModelSpec& spec, const std::optional<OptimizerConfig>& optimizer,
                                 const std::vector<int>& labels = {}, const std::string& source = "graft");

// The description after a copy that renames checkpoint keys (graft extract):
// every variable it names mapped through `new_names` (source key -> output
// key). nullopt when a variable it names is not copied: the copy holds a
// different model, and a stale description would describe it wrongly.
std::optional<ModelDescription> renamed_model(const ModelDescription& model,
                                              const std::map<std::string, std::string>& new_names);

}  // namespace graft
