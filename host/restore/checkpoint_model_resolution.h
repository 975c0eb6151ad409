#pragma once
// Which network a checkpoint holds, decided once for every job that runs it
// (eval, predict, export): the model description graft recorded in it; else
// the network a SavedModel's keras_metadata.pb or TensorFlow's graph
// (PREFIX.meta) defines; else the dense
// layers its variable names show — and then only with an activation the
// caller names, because nothing in the checkpoint records it and a guessed
// activation gives a confident wrong number (a ReLU reading of an ELU
// network scores 0.67 instead of 0.95). An explicit activation that
// contradicts the record or the graph is an error naming both.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "host/model/activation.h"
#include "host/model/model_description.h"
#include "host/restore/checkpoint_layers.h"

namespace graft {

struct CheckpointModelQuery {
  std::optional<Activation> activation;  // of every hidden layer, when the caller says it
  std::vector<std::string> layers;       // explicit layer order (names after renames); only without a record
  std::vector<std::string> renames;      // REGEX=REPLACEMENT rules; only without a record
  // How errors name the query's fields ("activation", "layers", "renames"):
  // the CLI maps them to its flags. Unset: the field names themselves.
  std::function<std::string(const std::string& field)> option_name;
};

struct ResolvedCheckpointModel {
  CheckpointModel model;
  std::optional<ModelDescription> recorded;  // graft's own description, when the checkpoint holds one
  // The network TensorFlow wrote down (a SavedModel's keras_metadata.pb, else
  // the .meta graph: host/restore/tensorflow_model.h), when there is no record.
  std::optional<ModelDescription> graph;
  std::string graph_where;                   // "the Keras metadata D/keras_metadata.pb", "the graph D/m.ckpt.meta"
  // "as recorded in the checkpoint", "as its TensorFlow graph D/m.meta defines it", "as its Keras metadata
  // D/keras_metadata.pb defines it", "rebuilt from its variables"
  std::string how;
  std::vector<std::string> notes;            // what was read from where, in words
  // The description eval and predict score with: the record, else the graph's.
  const std::optional<ModelDescription>& known() const { return recorded ? recorded : graph; }
  // How raw values become the network's inputs, where something says it:
  // the record's input, or the graph's when the graph scales or
  // standardizes its input itself (ModelInput::read_from); nullptr when
  // neither does (the data's natural scale, or --input-scale, then).
  const ModelInput* input() const {
    if (recorded) return &recorded->input;
    if (graph && !graph->input.read_from.empty()) return &graph->input;
    return nullptr;
  }
};

// Throws graft::Error: no activation where one is needed (naming the
// option), an activation that contradicts what is known, layers/renames for
// a checkpoint that records its model, and whatever model_from_description
// or model_from_checkpoint refuse.
ResolvedCheckpointModel resolve_checkpoint_model(const BundleReader& reader, const CheckpointModelQuery& query);

// "elu", "leaky_relu:0.1": with leaky ReLU's alpha, which tells models apart.
std::string activation_text(const Activation& a);

}  // namespace graft
