#pragma once
// One saver per checkpoint prefix: an exclusive flock on PREFIX.lock for the
// duration of a save. Holding it, a saver may remove the temporaries that
// dead savers of the same prefix left behind, knowing no live one owns them.
#include <string>
#include <vector>

namespace graft {

// An exclusive flock on a lock file that exists only while it is held.
class FileLock {
 public:
  // wait=false: throws graft::Error(busy_message) when another holder has it.
  FileLock(std::string path, bool wait, const std::string& busy_message);
  ~FileLock();  // removes the lock file, then releases the lock
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  std::string path_;
  int fd_ = -1;
};

// PREFIX.lock, not waiting: a second concurrent saver to one prefix (another
// process, or another writer in this one) gets an error naming it.
class SaveLock {
 public:
  explicit SaveLock(const std::string& prefix);

 private:
  FileLock lock_;
};

// FOLDER/checkpoint.lock, waiting: serialises the read-modify-write updates
// of a folder's state file, and lets its holder remove the state-file
// temporaries (checkpoint.tempstate<16 hex>) of dead writers.
class StateFileLock {
 public:
  explicit StateFileLock(const std::string& state_path);

 private:
  FileLock lock_;
};

// Whether a file name in PREFIX's folder is a temporary of a save to PREFIX:
// "BASE.tempstate<16 hex>.index" / ".data-NNNNN-of-NNNNN" (a staged bundle,
// whose prefix is returned in *staged_prefix_name), or
// "BASE.index.tempstate<16 hex>" / "BASE.data-...tempstate<16 hex>".
bool is_save_temporary(const std::string& base, const std::string& file_name, std::string* staged_prefix_name);

// Removes the temporaries of saves to `prefix` except the staged bundles
// whose prefix names (file names in the folder) are in `keep` (the state file
// names them). Call only while holding the SaveLock.
void remove_stale_temporaries(const std::string& prefix, const std::vector<std::string>& keep);

}  // namespace graft
