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

}  // namespace graft
