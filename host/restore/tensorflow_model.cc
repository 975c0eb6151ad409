#include "host/restore/tensorflow_model.h"

#include "checkpoint/meta_graph.h"
#include "checkpoint/saved_model.h"
#include "host/restore/graph_import.h"
#include "host/restore/keras_model.h"

namespace graft {

std::string TensorFlowModel::where() const { return (keras ? "the Keras metadata " : "the graph ") + path; }
std::string TensorFlowModel::what() const { return (keras ? "Keras metadata " : "TensorFlow graph ") + path; }

std::optional<TensorFlowModel> tensorflow_model(const BundleReader& reader) {
  if (const std::optional<std::string> dir = saved_model_dir_of(reader.prefix())) {
    std::optional<ModelDescription> keras = model_from_keras_metadata(reader);
    if (keras) return TensorFlowModel{std::move(*keras), keras_metadata_path(*dir), true};
  }
  std::optional<ModelDescription> graph = model_from_meta_graph(reader.prefix());
  if (!graph) return std::nullopt;
  return TensorFlowModel{std::move(*graph), meta_graph_path(reader.prefix()), false};
}

std::string no_tensorflow_model(const BundleReader& reader) {
  if (const std::optional<std::string> dir = saved_model_dir_of(reader.prefix())) {
    return std::string("no ") + kKerasMetadataFile + " in the SavedModel " + *dir;
  }
  return "no TensorFlow graph " + meta_graph_path(reader.prefix());
}

}  // namespace graft
