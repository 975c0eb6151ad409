#include "host/jobs/inspect_job.h"

#include "checkpoint/error.h"
#include "checkpoint/meta_graph.h"
#include "host/model/model_io.h"
#include "host/restore/graph_import.h"

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
  // A TensorFlow checkpoint: its graph (PREFIX.meta), when there is one, says what the model is.
  try {
    m.model = model_from_meta_graph(reader.prefix());
    if (m.model) m.note = "model: recovered from the TensorFlow graph " + meta_graph_path(reader.prefix());
  } catch (const Error& e) {
    m.note = std::string("no model description (not written by graft), and its TensorFlow graph cannot be used: ") +
             e.what();
  }
  if (!m.model && m.note.empty()) {
    m.note = "no model description (not written by graft): layers and their order come from the variable names, "
             "activations are not recorded";
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
