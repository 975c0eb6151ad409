#pragma once
// The MetaGraphDef tf.train.Saver writes beside a checkpoint as PREFIX.meta:
// the graph that names every op of the model (MatMul, BiasAdd, Elu, ...).
// Only the subset declared in proto/meta_graph.proto is read.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "meta_graph.pb.h"

namespace graft {

// Larger files are refused before they are read: real MLP graphs are well
// under a megabyte, and a graph with constants embedded stays far below this.
inline constexpr std::uint64_t kMaxMetaGraphBytes = 512ull << 20;

// "PREFIX.meta".
std::string meta_graph_path(const std::string& prefix);

// The graph in `path`, or nullopt when the file does not exist. Throws
// graft::Error naming the file when it is larger than kMaxMetaGraphBytes,
// unreadable, or not a MetaGraphDef.
std::optional<tf::MetaGraphDef> read_meta_graph(const std::string& path);

// Parses serialized MetaGraphDef bytes; `origin` names them in errors.
tf::MetaGraphDef parse_meta_graph(std::string_view bytes, const std::string& origin);

}  // namespace graft
