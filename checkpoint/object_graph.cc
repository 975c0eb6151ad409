#include "checkpoint/object_graph.h"

#include "checkpoint/bundle_reader.h"
#include "checkpoint/error.h"
#include "trackable_object_graph.pb.h"

namespace graft {
namespace {

tf::TrackableObjectGraph parse(const std::string& serialized) {
  tf::TrackableObjectGraph graph;
  if (!graph.ParseFromString(serialized)) {
    throw Error(std::string(kObjectGraphKey) + " is not a valid TrackableObjectGraph");
  }
  return graph;
}

}  // namespace

ObjectGraphInfo parse_object_graph(const std::string& serialized) {
  const tf::TrackableObjectGraph graph = parse(serialized);
  ObjectGraphInfo info;
  for (const auto& node : graph.nodes()) {
    for (const auto& attr : node.attributes()) {
      info.keys_in_node_order.push_back(attr.checkpoint_key());
      if (!attr.full_name().empty()) info.full_names[attr.checkpoint_key()] = attr.full_name();
    }
  }
  return info;
}

std::optional<ObjectGraphInfo> read_object_graph(const BundleReader& reader) {
  const BundleEntry* entry = reader.find(kObjectGraphKey);
  if (!entry) return std::nullopt;
  const auto values = reader.read_strings(*entry);
  if (values.size() != 1) {
    throw Error(reader.index_path() + ": " + kObjectGraphKey + " is not a scalar string");
  }
  try {
    return parse_object_graph(values.front());
  } catch (const Error& e) {
    throw Error(reader.index_path() + ": " + e.what());
  }
}

std::string rewrite_object_graph(
    const std::string& serialized,
    const std::function<std::optional<std::string>(const std::string&)>& new_key) {
  tf::TrackableObjectGraph graph = parse(serialized);
  for (auto& node : *graph.mutable_nodes()) {
    auto* attrs = node.mutable_attributes();
    for (int i = 0; i < attrs->size();) {
      auto* attr = attrs->Mutable(i);
      if (auto key = new_key(attr->checkpoint_key())) {
        attr->set_checkpoint_key(*key);
        ++i;
      } else {
        attrs->DeleteSubrange(i, 1);
      }
    }
  }
  return graph.SerializeAsString();
}

}  // namespace graft
