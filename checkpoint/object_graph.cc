#include "checkpoint/object_graph.h"

#include <algorithm>

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
    ObjectGraphNode& n = info.nodes.emplace_back();
    for (const auto& attr : node.attributes()) {
      info.keys_in_node_order.push_back(attr.checkpoint_key());
      if (!attr.full_name().empty()) info.full_names[attr.checkpoint_key()] = attr.full_name();
      n.attributes.emplace(attr.name(), attr.checkpoint_key());
    }
    for (const auto& child : node.children()) {
      if (child.node_id() >= 0 && child.node_id() < graph.nodes_size()) {
        n.children.emplace_back(child.local_name(), child.node_id());
      }
    }
  }
  return info;
}

std::optional<std::string> variable_key_at(const ObjectGraphInfo& graph, const std::vector<std::string>& path) {
  if (graph.nodes.empty()) return std::nullopt;
  int at = 0;
  for (const std::string& name : path) {
    const auto& children = graph.nodes[static_cast<std::size_t>(at)].children;
    const auto it = std::find_if(children.begin(), children.end(), [&](const auto& c) { return c.first == name; });
    if (it == children.end()) return std::nullopt;
    at = it->second;
  }
  const auto& attrs = graph.nodes[static_cast<std::size_t>(at)].attributes;
  const auto value = attrs.find("VARIABLE_VALUE");
  if (value == attrs.end()) return std::nullopt;
  return value->second;
}

std::map<std::string, std::string> keras_layer_paths(const ObjectGraphInfo& graph) {
  std::map<std::string, std::string> out;
  if (graph.nodes.empty()) return out;
  for (const auto& [layer, id] : graph.nodes.front().children) {
    if (layer.rfind("layer_with_weights-", 0) != 0) continue;
    for (const auto& [leaf, var] : graph.nodes[static_cast<std::size_t>(id)].children) {
      const auto& attrs = graph.nodes[static_cast<std::size_t>(var)].attributes;
      const auto value = attrs.find("VARIABLE_VALUE");
      if (value != attrs.end()) out.emplace(value->second, layer + "/" + leaf);
    }
  }
  return out;
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
