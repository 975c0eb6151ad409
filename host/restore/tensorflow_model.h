#pragma once
// The network TensorFlow wrote down beside a checkpoint's variables, when
// it did: a SavedModel's keras_metadata.pb (host/restore/keras_model.h),
// else the TF1 graph PREFIX.meta (host/restore/graph_import.h). graft's own
// record (host/model/model_io.h) comes before either; this is for
// checkpoints without one (eval, predict, export, inspect, train --resume).
#include <optional>
#include <string>

#include "checkpoint/bundle_reader.h"
#include "host/model/model_description.h"

namespace graft {

struct TensorFlowModel {
  ModelDescription model;
  std::string path;    // DIR/keras_metadata.pb or PREFIX.meta
  bool keras = false;  // from keras_metadata.pb
  // "the Keras metadata D/keras_metadata.pb", "the graph D/m.ckpt.meta"
  std::string where() const;
  // "Keras metadata D/keras_metadata.pb", "TensorFlow graph D/m.ckpt.meta"
  std::string what() const;
};

// nullopt when there is neither file. Throws graft::Error naming the file
// when one is there but cannot be used.
std::optional<TensorFlowModel> tensorflow_model(const BundleReader& reader);

// What a checkpoint with neither lacks, for messages: "no TensorFlow graph
// PREFIX.meta", or for a SavedModel "no keras_metadata.pb in DIR".
std::string no_tensorflow_model(const BundleReader& reader);

}  // namespace graft
