#pragma once
// TF's `checkpoint` state file (text-format CheckpointState): which prefix is
// the latest and which are kept.
#include <optional>
#include <string>
#include <vector>

namespace graft {

struct CheckpointState {
  std::string model_checkpoint_path;
  std::vector<std::string> all_model_checkpoint_paths;  // oldest first
  std::vector<double> all_model_checkpoint_timestamps;
  std::optional<double> last_preserved_timestamp;
};

// Parses `dir/checkpoint`; throws graft::Error naming the file on bad syntax.
CheckpointState read_state_file(const std::string& path);
// Writes it atomically (temp file + fsync + rename), only TF's four fields.
void write_state_file(const std::string& path, const CheckpointState& state);
// Records `prefix` as the newest checkpoint in its directory's state file
// (relative path when it lies in that directory), keeping at most `keep`
// entries (0 = keep all); returns the prefixes that fell off the list, whose
// files the caller may delete.
std::vector<std::string> record_checkpoint(const std::string& prefix, int keep = 0);

// For the save protocol (checkpoint/bundle_writer.cc). The entries
// (model_checkpoint_path, all_model_checkpoint_paths) of the state file in
// `prefix`'s folder that name files in that folder, as file names; empty
// when there is no readable state file.
std::vector<std::string> state_entries_in_folder(const std::string& prefix);
// Rewrites that state file atomically with every entry naming one of `from`
// (file names in the folder) replaced by `to` (a file name there); a path
// listed twice afterwards keeps its newest place. Returns false, writing
// nothing, when no entry names one of `from`.
bool replace_state_entries(const std::string& prefix, const std::vector<std::string>& from, const std::string& to);

}  // namespace graft
