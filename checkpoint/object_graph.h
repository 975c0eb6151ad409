#pragma once
// TF2's object graph (_CHECKPOINTABLE_OBJECT_GRAPH): which bundle keys exist,
// in the order TF wrote them, and the TF variable names behind Keras'
// `layer_with_weights-N` keys.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace graft {

class BundleReader;

inline constexpr const char* kObjectGraphKey = "_CHECKPOINTABLE_OBJECT_GRAPH";

// One object of the graph: its children by local name and its attributes'
// checkpoint keys by attribute name ("VARIABLE_VALUE").
struct ObjectGraphNode {
  std::vector<std::pair<std::string, int>> children;  // local name, node id (checked: in range)
  std::map<std::string, std::string> attributes;
};

struct ObjectGraphInfo {
  // Every attribute's checkpoint key, by node id then attribute order: the
  // order TF's object-based saver adds the tensors (the graph itself last).
  std::vector<std::string> keys_in_node_order;
  // checkpoint key -> the variable's TF name, e.g. "dense_1/kernel".
  std::map<std::string, std::string> full_names;
  std::vector<ObjectGraphNode> nodes;  // node 0 is the root (the Keras model)
};

// The checkpoint key of the variable reached from the root by the local
// names in `path` ({"layer_with_weights-0", "kernel"}), or nullopt when the
// path leads nowhere or to an object without a VARIABLE_VALUE. A SavedModel
// keys its variables by the first path TF found (variables/0, or
// layer_with_weights-0/kernel): this finds them by any path.
std::optional<std::string> variable_key_at(const ObjectGraphInfo& graph, const std::vector<std::string>& path);

// Keras's name for each variable that a root child layer_with_weights-N
// holds directly: checkpoint key -> "layer_with_weights-N/LEAF" ("LEAF" the
// child's local name: kernel, bias, gamma, moving_mean, ...). What a
// SavedModel's variables/K keys are called in save_weights checkpoints.
std::map<std::string, std::string> keras_layer_paths(const ObjectGraphInfo& graph);

// Parses a serialized TrackableObjectGraph; throws graft::Error when corrupt.
ObjectGraphInfo parse_object_graph(const std::string& serialized);
// The checkpoint's graph, or nullopt when it has none (TF1 checkpoints).
std::optional<ObjectGraphInfo> read_object_graph(const BundleReader& reader);

// Re-serializes a graph with each attribute's checkpoint key replaced by
// new_key(key); an attribute whose new_key is nullopt is removed.
std::string rewrite_object_graph(
    const std::string& serialized,
    const std::function<std::optional<std::string>(const std::string&)>& new_key);

}  // namespace graft
