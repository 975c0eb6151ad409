#include "host/jobs/inspect_job.h"

#include "checkpoint/error.h"
#include "checkpoint/saved_model.h"
#include "host/model/model_io.h"
#include "host/restore/tensorflow_model.h"

namespace graft {

CheckpointModelReport describe_checkpoint_model(const BundleReader& reader) {
  CheckpointModelReport m;
  try {
    m.model = read_model_description(reader);
  } catch (const Error& e) {
    m.note = std::string("model description unreadable: ") + e.what();
    return m;
  }
  if (m.model) return m;
  // A TensorFlow checkpoint: a SavedModel's keras_metadata.pb, else its graph
  // (PREFIX.meta), when there is one, says what the model is.
  try {
    if (std::optional<TensorFlowModel> tf = tensorflow_model(reader)) {
      m.model = std::move(tf->model);
      m.note = (tf->keras ? "model: read from the " : "model: recovered from the ") + tf->what();
    }
  } catch (const Error& e) {
    const bool keras = saved_model_dir_of(reader.prefix()).has_value();
    m.note = std::string("no model description (not written by graft), and its ") +
             (keras ? "Keras metadata" : "TensorFlow graph") + " cannot be used: " + e.what();
  }
  if (!m.model && m.note.empty()) {
    m.note = "no model description (not written by graft), " + no_tensorflow_model(reader) +
             ": layers and their order come from the variable names, activations are not recorded";
  }
  return m;
}

std::vector<CorruptTensor> verify_checkpoint(const BundleReader& reader) {
  std::vector<CorruptTensor> bad;
  for (const auto& e : reader.entries()) {
    if (e.sliced) continue;
    try {
      reader.verify(e);
    } catch (const Error& err) {
      bad.push_back({e.info.name, err.what()});
    }
  }
  return bad;
}

}  // namespace graft
