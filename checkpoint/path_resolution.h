#pragma once
// Turning what a user types into a checkpoint prefix: the prefix itself, one
// of its files (.index, .data-NNNNN-of-NNNNN, .meta), or a directory whose
// `checkpoint` state file names the latest checkpoint (as TF resolves it:
// a relative model_checkpoint_path is relative to that directory), or a TF2
// SavedModel directory (saved_model.pb, or that file or keras_metadata.pb
// named itself): its variables bundle DIR/variables/variables
// (checkpoint/saved_model.h). A directory holding both saved_model.pb and a
// `checkpoint` state file is ambiguous and refused, naming both.
#include <string>

namespace graft {

struct ResolvedPrefix {
  std::string prefix;
  std::string note;  // how it was found; empty when the path was the prefix
};

// Throws graft::Error naming the path when nothing usable is there.
ResolvedPrefix resolve_checkpoint_path(const std::string& path);

// "<prefix>.data-00003-of-00010".
std::string data_file_name(const std::string& prefix, int32_t shard, int32_t num_shards);
std::string index_file_name(const std::string& prefix);

}  // namespace graft
