#include "checkpoint/state_file.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "checkpoint/error.h"
#include "checkpoint/file_io.h"
#include "checkpoint/save_lock.h"
#include "checkpoint_state.pb.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

// Collects the first parse error instead of logging it.
class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (text.empty()) text = "line " + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " + message;
  }
  std::string text;
};

// Python's text_format escaping (as_utf8=False): C escapes, other bytes octal.
std::string escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '"': out += "\\\""; break;
      case '\'': out += "\\'"; break;
      case '\\': out += "\\\\"; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          char buf[5];
          std::snprintf(buf, sizeof buf, "\\%03o", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

// Shortest text that reads back as the same double, like Python's repr.
std::string format_double(double v) {
  char buf[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string s = buf;
  if (std::isfinite(v) && s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

std::string render(const CheckpointState& state) {
  std::ostringstream out;
  out << "model_checkpoint_path: \"" << escape(state.model_checkpoint_path) << "\"\n";
  for (const auto& p : state.all_model_checkpoint_paths) {
    out << "all_model_checkpoint_paths: \"" << escape(p) << "\"\n";
  }
  for (double t : state.all_model_checkpoint_timestamps) {
    out << "all_model_checkpoint_timestamps: " << format_double(t) << "\n";
  }
  if (state.last_preserved_timestamp) {
    out << "last_preserved_timestamp: " << format_double(*state.last_preserved_timestamp) << "\n";
  }
  return out.str();
}

double now_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

fs::path folder_of(const std::string& prefix) {
  const fs::path p(prefix);
  return p.has_parent_path() ? p.parent_path() : fs::path(".");
}

// The file name an entry of the state file in `dir` names, when it lies in
// `dir`; empty otherwise.
std::string name_in_folder(const fs::path& dir, const std::string& entry) {
  if (entry.empty()) return {};
  std::error_code ec;
  const fs::path abs_dir = fs::absolute(dir, ec).lexically_normal();
  const fs::path e(entry);
  const fs::path resolved = fs::absolute(e.is_relative() ? dir / e : e, ec).lexically_normal();
  if (ec || resolved.parent_path() != abs_dir) return {};
  return resolved.filename().string();
}

}  // namespace

CheckpointState read_state_file(const std::string& path) {
  // TF's state files are a few hundred bytes per entry; refuse a huge (or
  // sparse) file before reading it, and a FIFO before blocking on it.
  constexpr std::uintmax_t kMaxStateFileBytes = 1 << 20;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (!ec && fs::exists(st) && !fs::is_regular_file(st)) {
    throw Error("cannot read checkpoint state file " + path + ": not a regular file");
  }
  const std::uintmax_t bytes = fs::file_size(path, ec);
  if (!ec && bytes > kMaxStateFileBytes) {
    throw Error("checkpoint state file " + path + " has " + std::to_string(bytes) + " bytes, more than the " +
                std::to_string(kMaxStateFileBytes) + " a state file may have");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read checkpoint state file " + path);
  std::stringstream text;
  text << in.rdbuf();
  tf::CheckpointState proto;
  google::protobuf::TextFormat::Parser parser;
  FirstError errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text.str(), &proto)) {
    throw Error(path + ": not a checkpoint state file: " + errors.text);
  }
  CheckpointState state;
  state.model_checkpoint_path = proto.model_checkpoint_path();
  state.all_model_checkpoint_paths.assign(proto.all_model_checkpoint_paths().begin(),
                                          proto.all_model_checkpoint_paths().end());
  state.all_model_checkpoint_timestamps.assign(proto.all_model_checkpoint_timestamps().begin(),
                                               proto.all_model_checkpoint_timestamps().end());
  if (proto.has_last_preserved_timestamp()) state.last_preserved_timestamp = proto.last_preserved_timestamp();
  return state;
}

void write_state_file(const std::string& path, const CheckpointState& state) {
  file_io::write_file_atomically(path, render(state));
}

std::vector<std::string> record_checkpoint(const std::string& prefix, int keep) {
  const fs::path p(prefix);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  const std::string state_path = (dir / "checkpoint").string();
  const StateFileLock lock(state_path);
  CheckpointState state;
  if (file_io::exists(state_path)) state = read_state_file(state_path);

  // Timestamps are kept only while they pair up with the paths.
  auto& paths = state.all_model_checkpoint_paths;
  auto& stamps = state.all_model_checkpoint_timestamps;
  bool timed = stamps.size() == paths.size();
  const std::string name = p.filename().string();  // relative: the prefix lies in `dir`
  for (std::size_t i = 0; i < paths.size();) {
    if (paths[i] == name || paths[i] == prefix) {
      paths.erase(paths.begin() + static_cast<std::ptrdiff_t>(i));
      if (timed) stamps.erase(stamps.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
  paths.push_back(name);
  if (timed) {
    stamps.push_back(now_seconds());
  } else {
    stamps.clear();
  }
  state.model_checkpoint_path = name;

  std::vector<std::string> dropped;
  if (keep > 0) {
    while (paths.size() > static_cast<std::size_t>(keep)) {
      const fs::path old(paths.front());
      dropped.push_back((old.is_relative() ? dir / old : old).string());
      paths.erase(paths.begin());
      if (!stamps.empty()) stamps.erase(stamps.begin());
    }
  }
  write_state_file(state_path, state);
  return dropped;
}

std::vector<std::string> state_entries_in_folder(const std::string& prefix) {
  const fs::path dir = folder_of(prefix);
  const std::string state_path = (dir / "checkpoint").string();
  std::vector<std::string> names;
  if (!file_io::exists(state_path)) return names;
  CheckpointState state;
  try {
    state = read_state_file(state_path);
  } catch (const Error&) {
    return names;  // names nothing readable; record_checkpoint reports it
  }
  auto add = [&](const std::string& entry) {
    const std::string n = name_in_folder(dir, entry);
    if (!n.empty() && std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  };
  add(state.model_checkpoint_path);
  for (const auto& p : state.all_model_checkpoint_paths) add(p);
  return names;
}

bool replace_state_entries(const std::string& prefix, const std::vector<std::string>& from, const std::string& to) {
  const fs::path dir = folder_of(prefix);
  const std::string state_path = (dir / "checkpoint").string();
  if (!file_io::exists(state_path)) return false;
  const StateFileLock lock(state_path);
  CheckpointState state;
  try {
    state = read_state_file(state_path);
  } catch (const Error&) {
    return false;
  }
  auto named = [&](const std::string& entry) {
    const std::string n = name_in_folder(dir, entry);
    return !n.empty() && std::find(from.begin(), from.end(), n) != from.end();
  };
  bool changed = false;
  if (named(state.model_checkpoint_path)) {
    state.model_checkpoint_path = to;
    changed = true;
  }
  auto& paths = state.all_model_checkpoint_paths;
  auto& stamps = state.all_model_checkpoint_timestamps;
  const bool timed = stamps.size() == paths.size();
  for (auto& p : paths) {
    if (named(p)) {
      p = to;
      changed = true;
    }
  }
  if (!changed) return false;
  // Two entries may now be `to`: keep the newest (last) place.
  for (std::size_t i = paths.size(); i-- > 0;) {
    if (paths[i] != to) continue;
    for (std::size_t j = i; j-- > 0;) {
      if (paths[j] != to) continue;
      paths.erase(paths.begin() + static_cast<std::ptrdiff_t>(j));
      if (timed) stamps.erase(stamps.begin() + static_cast<std::ptrdiff_t>(j));
      --i;
    }
    break;
  }
  write_state_file(state_path, state);
  return true;
}

}  // namespace graft
