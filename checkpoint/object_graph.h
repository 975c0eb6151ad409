#pragma once
// TF2's object graph (_CHECKPOINTABLE_OBJECT_GRAPH): which bundle keys exist,
// in the order TF wrote them, and the TF variable names behind Keras'
// `layer_with_weights-N` keys.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace graft {

class BundleReader;

inline constexpr const char* kObjectGraphKey = "_CHECKPOINTABLE_OBJECT_GRAPH";

struct ObjectGraphInfo {
  // Every attribute's checkpoint key, by node id then attribute order: the
  // order TF's object-based saver adds the tensors (the graph itself last).
  std::vector<std::string> keys_in_node_order;
  // checkpoint key -> the variable's TF name, e.g. "dense_1/kernel".
  std::map<std::string, std::string> full_names;
};

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
