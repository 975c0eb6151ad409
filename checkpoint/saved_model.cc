#include "checkpoint/saved_model.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "checkpoint/error.h"
#include "checkpoint/file_io.h"
#include "checkpoint/printable.h"

namespace fs = std::filesystem;

namespace graft {

bool is_saved_model_dir(const std::string& dir) {
  std::error_code ec;
  return fs::is_regular_file(fs::path(dir) / kSavedModelFile, ec);
}

std::string saved_model_variables_prefix(const std::string& dir) {
  return (fs::path(dir) / "variables" / "variables").string();
}

std::optional<std::string> saved_model_dir_of(const std::string& prefix) {
  const fs::path p(prefix);
  if (p.filename() != "variables" || p.parent_path().filename() != "variables") return std::nullopt;
  fs::path dir = p.parent_path().parent_path();
  if (dir.empty()) dir = ".";
  if (!is_saved_model_dir(dir.string())) return std::nullopt;
  return dir.string();
}

std::string keras_metadata_path(const std::string& dir) { return (fs::path(dir) / kKerasMetadataFile).string(); }

std::optional<std::string> read_keras_metadata_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    throw Error(printable(path) + ": cannot read it: " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) throw Error(printable(path) + ": not a regular file, so not Keras metadata");
  const auto too_big = [&](std::uint64_t size) {
    return Error(printable(path) + ": " + std::to_string(size) + " bytes, more than graft reads as Keras metadata (" +
                 std::to_string(kMaxKerasMetadataBytes) + ")");
  };
  if (static_cast<std::uint64_t>(st.st_size) > kMaxKerasMetadataBytes) throw too_big(st.st_size);
  const file_io::MappedFile file(path);
  if (file.size() > kMaxKerasMetadataBytes) throw too_big(file.size());  // it grew since stat
  return std::string(file.bytes());
}

void refuse_saving_into_saved_model(const std::string& prefix, const std::string& role) {
  std::error_code ec;
  fs::path dir = fs::absolute(fs::path(prefix), ec).lexically_normal().parent_path();
  if (ec) return;  // the writer reports what is wrong with the path
  for (int up = 0; up < 2 && !dir.empty(); ++up, dir = dir.parent_path()) {
    if (is_saved_model_dir(dir.string())) {
      throw Error(role + " " + printable(prefix) + " lies inside the SavedModel " + printable(dir.string()) +
                  " (it holds " + kSavedModelFile + "); graft does not write into a SavedModel, whose "
                  "saved_model.pb was saved with its variables: save to another directory");
    }
    if (dir == dir.root_path()) break;
  }
}

}  // namespace graft
