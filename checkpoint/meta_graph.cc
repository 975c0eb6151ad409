#include "checkpoint/meta_graph.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "checkpoint/error.h"
#include "checkpoint/file_io.h"

namespace graft {

std::string meta_graph_path(const std::string& prefix) { return prefix + ".meta"; }

std::optional<std::string> read_meta_graph_file(const std::string& path) {
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
  if (file.size() > kMaxMetaGraphBytes) {  // it grew since stat
    throw Error(path + ": the graph is " + std::to_string(file.size()) + " bytes, more than graft reads (" +
                std::to_string(kMaxMetaGraphBytes) + ")");
  }
  return std::string(file.bytes());
}

}  // namespace graft
