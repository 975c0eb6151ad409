#pragma once
// The MetaGraphDef file tf.train.Saver writes beside a checkpoint as
// PREFIX.meta: the graph that names every op of the model (MatMul, BiasAdd,
// Elu, ...). This reads its bytes safely; host/restore/graph_import.h parses
// them (proto/meta_graph.proto, kept inside the library like every proto).
#include <cstdint>
#include <optional>
#include <string>

namespace graft {

// Larger files are refused before they are read: real MLP graphs are well
// under a megabyte, and a graph with constants embedded stays far below this.
inline constexpr std::uint64_t kMaxMetaGraphBytes = 512ull << 20;

// "PREFIX.meta".
std::string meta_graph_path(const std::string& prefix);

// The bytes of the graph file `path`, or nullopt when it does not exist.
// Throws graft::Error naming the file when it is not a regular file, is
// larger than kMaxMetaGraphBytes (naming both sizes), or cannot be read.
std::optional<std::string> read_meta_graph_file(const std::string& path);

}  // namespace graft
