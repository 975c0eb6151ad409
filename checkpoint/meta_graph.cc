#include "checkpoint/meta_graph.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "checkpoint/error.h"
#include "checkpoint/file_io.h"

namespace graft {

std::string meta_graph_path(const std::string& prefix) { return prefix + ".meta"; }

std::optional<tf::MetaGraphDef> read_meta_graph(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    throw Error(path + ": cannot read the graph: " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) throw Error(path + ": not a regular file, so not a TensorFlow graph");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > kMaxMetaGraphBytes) {
    throw Error(path + ": the graph is " + std::to_string(size) + " bytes, more than graft reads (" +
                std::to_string(kMaxMetaGraphBytes) + ")");
  }
  const file_io::MappedFile file(path);
  return parse_meta_graph(file.bytes(), path);
}

tf::MetaGraphDef parse_meta_graph(std::string_view bytes, const std::string& origin) {
  tf::MetaGraphDef graph;
  if (bytes.size() > kMaxMetaGraphBytes) {
    throw Error(origin + ": the graph is " + std::to_string(bytes.size()) + " bytes, more than graft reads (" +
                std::to_string(kMaxMetaGraphBytes) + ")");
  }
  if (!graph.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    throw Error(origin + ": not a TensorFlow MetaGraphDef (truncated or corrupt)");
  }
  if (!graph.has_graph_def() || graph.graph_def().node_size() == 0) {
    throw Error(origin + ": the MetaGraphDef holds no graph nodes");
  }
  return graph;
}

}  // namespace graft
