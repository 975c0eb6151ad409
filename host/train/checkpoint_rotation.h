#pragma once
// Periodic checkpoints kept to the newest K, the way tf.train.Saver does it
// (max_to_keep): each one is written to PREFIX-<global step>
// (model.ckpt-1200) and recorded in the folder's `checkpoint` state file
// (all_model_checkpoint_paths oldest first, model_checkpoint_path the
// newest); the files of a numbered checkpoint of the same PREFIX that falls
// off the list are deleted. Other entries (another prefix, a plain PREFIX
// saved at the end of an earlier run) may leave the list but are never
// deleted. Numbered checkpoints of PREFIX older than every listed one and
// not listed (a save killed between the state file and the deletion leaves
// them) are deleted too, unless a save to them is in progress.
#include <cstdint>
#include <string>
#include <vector>

namespace graft {

// `--save-every N[epochs|steps]`: "3" and "3epochs" are every 3 epochs,
// "500steps" every 500 global steps. count 0 = off.
struct SaveEvery {
  enum class Unit { kEpochs, kSteps };
  int64_t count = 0;
  Unit unit = Unit::kEpochs;
  bool enabled() const { return count > 0; }
  std::string describe() const;  // "every 3 epochs", "every 500 steps"
};

// Throws graft::Error on anything but a positive count with an optional
// unit ("epoch"/"epochs", "step"/"steps").
SaveEvery parse_save_every(const std::string& text);

// "PREFIX-STEP".
std::string numbered_prefix(const std::string& prefix, int64_t step);

// Records `saved` (already written) as the newest checkpoint of its folder,
// keeping the newest `keep` entries (0 = all), and deletes the files of each
// dropped entry that is a numbered checkpoint of `base` (base-<digits>).
// Returns the prefixes whose files were deleted.
std::vector<std::string> rotate_checkpoints(const std::string& saved, const std::string& base, int keep);

// Removes PREFIX.index and PREFIX.data-* (errors ignored).
void delete_checkpoint_files(const std::string& prefix);

}  // namespace graft
