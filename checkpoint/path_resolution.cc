#include "checkpoint/path_resolution.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <vector>

#include "checkpoint/error.h"
#include "checkpoint/printable.h"
#include "checkpoint/saved_model.h"
#include "checkpoint/state_file.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

bool is_file(const std::string& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// What is at `p` when it is there but not a regular file ("a directory",
// "a FIFO", ...); "" for a regular file or nothing.
std::string non_file_kind(const std::string& p) {
  std::error_code ec;
  const fs::file_status st = fs::status(p, ec);
  switch (st.type()) {
    case fs::file_type::directory: return "a directory";
    case fs::file_type::fifo: return "a FIFO";
    case fs::file_type::socket: return "a socket";
    case fs::file_type::block:
    case fs::file_type::character: return "a device";
    default: break;
  }
  return {};
}

// Throws when `p` exists but is not a regular file, saying what it is.
void require_not_special(const std::string& p, const char* role) {
  const std::string kind = non_file_kind(p);
  if (!kind.empty()) throw Error(printable(p) + " is " + kind + ", not " + role);
}

std::string strip_trailing_slashes(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

// The prefix of one of a checkpoint's own files, or "" when `path` is not one.
std::string prefix_of_file(const std::string& path) {
  static const std::regex kData(R"(^(.*)\.data-\d{5}-of-\d{5}$)");
  std::smatch m;
  if (std::regex_match(path, m, kData)) return m[1];
  for (const char* ext : {".index", ".meta"}) {
    const std::string e = ext;
    if (path.size() > e.size() && path.compare(path.size() - e.size(), e.size(), e) == 0) {
      return path.substr(0, path.size() - e.size());
    }
  }
  return "";
}

// A directory without a `checkpoint` state file (a copied folder, or one a
// Saver wrote with write_state=False): its one checkpoint, when the .index
// files in it name exactly one, said so; several are refused, naming them,
// since picking the newest by file time would be a guess.
ResolvedPrefix only_checkpoint_in(const std::string& dir) {
  std::vector<std::string> prefixes;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() > 6 && name.compare(name.size() - 6, 6, ".index") == 0 && is_file(it->path().string())) {
      prefixes.push_back(it->path().string().substr(0, it->path().string().size() - 6));
      if (prefixes.size() > 8) break;  // enough to name the ambiguity
    }
  }
  const std::string how = " (give a checkpoint prefix such as DIR/model.ckpt, or a SavedModel directory holding "
                          "saved_model.pb)";
  if (prefixes.empty()) throw Error(dir + " is a directory without a `checkpoint` state file or any .index file" + how);
  if (prefixes.size() > 1) {
    std::sort(prefixes.begin(), prefixes.end());
    std::string names;
    for (std::size_t i = 0; i < prefixes.size() && i < 3; ++i) names += (i ? ", " : "") + printable(prefixes[i]);
    if (prefixes.size() > 3) names += ", ...";
    throw Error(dir + " is a directory without a `checkpoint` state file and holds several checkpoints (" + names +
                "): name one" + how);
  }
  return {prefixes.front(), "using checkpoint prefix " + printable(prefixes.front()) + " (the only checkpoint in " +
                                printable(dir) + ", which has no `checkpoint` state file)"};
}

ResolvedPrefix from_directory(const std::string& dir) {
  const std::string state_path = (fs::path(dir) / "checkpoint").string();
  if (!is_file(state_path)) {
    std::error_code ec;
    if (fs::exists(state_path, ec)) {
      throw Error(state_path + " is not a regular file (expected a `checkpoint` state file)");
    }
    return only_checkpoint_in(dir);
  }
  const CheckpointState state = read_state_file(state_path);
  if (state.model_checkpoint_path.empty()) {
    throw Error(state_path + ": no model_checkpoint_path");
  }
  fs::path prefix = state.model_checkpoint_path;
  if (prefix.is_relative()) prefix = fs::path(dir) / prefix;
  const std::string p = prefix.string();
  require_not_special(index_file_name(p), "a checkpoint index file");
  if (!is_file(index_file_name(p))) {
    throw Error(state_path + " names checkpoint " + printable(p) + ", but " + printable(index_file_name(p)) +
                " does not exist");
  }
  return {p, "using checkpoint prefix " + printable(p) + " (from " + state_path + ")"};
}

// A TF2 SavedModel directory: its variables bundle, DIR/variables/variables.
// `from` is what the user named (the directory, or saved_model.pb in it).
ResolvedPrefix from_saved_model(const std::string& dir, const std::string& from) {
  const std::string saved_model = (fs::path(dir) / kSavedModelFile).string();
  require_not_special(saved_model, "a SavedModel's saved_model.pb");
  if (!is_file(saved_model)) {
    throw Error(printable(from) + " is Keras metadata, but " + printable(saved_model) +
                " does not exist (not a SavedModel directory)");
  }
  const std::string prefix = saved_model_variables_prefix(dir);
  const std::string variables = (fs::path(dir) / "variables").string();
  std::error_code ec;
  if (!fs::is_directory(variables, ec)) {
    throw Error(printable(dir) + " is a SavedModel (" + kSavedModelFile + ") without its variables: " +
                printable(variables) + (fs::exists(variables, ec) ? " is not a directory" : " does not exist") +
                " (graft reads a SavedModel's network from its variables)");
  }
  require_not_special(index_file_name(prefix), "a checkpoint index file");
  if (!is_file(index_file_name(prefix))) {
    throw Error(printable(dir) + " is a SavedModel (" + kSavedModelFile + ") without its variables: " +
                printable(index_file_name(prefix)) + " does not exist");
  }
  return {prefix, "using the SavedModel's variables " + printable(prefix) + " (from " + printable(from) + ")"};
}

}  // namespace

std::string data_file_name(const std::string& prefix, int32_t shard, int32_t num_shards) {
  char buf[32];
  std::snprintf(buf, sizeof buf, ".data-%05d-of-%05d", shard, num_shards);
  return prefix + buf;
}

std::string index_file_name(const std::string& prefix) { return prefix + ".index"; }

ResolvedPrefix resolve_checkpoint_path(const std::string& input) {
  if (input.empty()) throw Error("empty checkpoint path");
  const std::string path = strip_trailing_slashes(input);
  if (is_file(index_file_name(path))) return {path, ""};

  std::error_code ec;
  const std::string prefix = prefix_of_file(path);
  // PREFIX given, PREFIX.index there but not a file.
  if (!fs::is_directory(path, ec)) require_not_special(index_file_name(path), "a checkpoint index file");
  // PREFIX.index (or a data file) given that is not a file.
  if (!prefix.empty()) require_not_special(path, "a checkpoint file");
  if (fs::is_directory(path, ec)) {
    if (fs::exists(fs::path(path) / kSavedModelFile, ec)) {
      if (fs::exists(fs::path(path) / "checkpoint", ec)) {
        throw Error(printable(path) + " holds both a SavedModel (" + kSavedModelFile +
                    ") and a `checkpoint` state file: give " + printable((fs::path(path) / kSavedModelFile).string()) +
                    " for the SavedModel, or the checkpoint's prefix");
      }
      return from_saved_model(path, path);
    }
    return from_directory(path);
  }
  // One of a SavedModel's own files: the SavedModel.
  const std::string base = fs::path(path).filename().string();
  if ((base == kSavedModelFile || base == kKerasMetadataFile) && is_file(path)) {
    const std::string dir = fs::path(path).parent_path().empty() ? "." : fs::path(path).parent_path().string();
    return from_saved_model(dir, path);
  }

  if (!prefix.empty() && is_file(path)) {
    require_not_special(index_file_name(prefix), "a checkpoint index file");
    if (!is_file(index_file_name(prefix))) {
      throw Error(path + " belongs to checkpoint " + prefix + ", but " + index_file_name(prefix) +
                  " does not exist");
    }
    return {prefix, "using checkpoint prefix " + prefix + " (from " + path + ")"};
  }
  if (fs::exists(path, ec)) {
    throw Error(path + " is not a checkpoint (expected PREFIX, PREFIX.index or a directory with a "
                       "`checkpoint` file)");
  }
  if (!prefix.empty()) throw Error("no checkpoint at " + path + ": the file does not exist");
  throw Error("no checkpoint at " + path + ": neither " + index_file_name(path) +
              " nor a directory " + path + " exists");
}

}  // namespace graft
