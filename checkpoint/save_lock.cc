#include "checkpoint/save_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <regex>

#include "checkpoint/error.h"
#include "checkpoint/file_io.h"

namespace fs = std::filesystem;

namespace graft {

FileLock::FileLock(std::string path, bool wait, const std::string& busy_message) : path_(std::move(path)) {
  // The lock file is removed when a save ends, so a process may lock a file
  // that was unlinked meanwhile: lock, then check that the path still names
  // the locked file, else try again.
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw Error("cannot create lock file " + path_ + ": " + std::strerror(errno));
    int rc;
    do {
      rc = ::flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB));
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      const int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) throw Error(busy_message);
      throw Error("cannot lock " + path_ + ": " + std::strerror(err));
    }
    struct stat held {}, named {};
    if (::fstat(fd, &held) == 0 && ::stat(path_.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
        held.st_dev == named.st_dev) {
      fd_ = fd;
      return;
    }
    ::close(fd);
  }
  throw Error("cannot lock " + path_ + ": it keeps being replaced");
}

FileLock::~FileLock() {
  ::unlink(path_.c_str());  // while still holding the lock (see the constructor)
  ::close(fd_);
}

SaveLock::SaveLock(const std::string& prefix)
    : lock_(prefix + ".lock", false,
            prefix + ": another save to this checkpoint prefix is in progress (it holds " + prefix + ".lock)") {}

StateFileLock::StateFileLock(const std::string& state_path) : lock_(state_path + ".lock", true, "") {
  const fs::path p(state_path);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  static const std::regex temporary(R"(\.tempstate[0-9a-f]{16})");
  const std::string base = p.filename().string();
  std::error_code ec;
  std::vector<std::string> doomed;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.compare(0, base.size(), base) == 0 && std::regex_match(name.substr(base.size()), temporary)) {
      doomed.push_back((dir / name).string());
    }
  }
  for (const std::string& f : doomed) file_io::remove_quietly(f);
}

bool is_save_temporary(const std::string& base, const std::string& file_name, std::string* staged_prefix_name) {
  if (file_name.compare(0, base.size(), base) != 0) return false;
  static const std::regex staged(R"(\.tempstate[0-9a-f]{16}(\.index|\.data-[0-9]{5}-of-[0-9]{5}))");
  static const std::regex renamed(R"((\.index|\.data-[0-9]{5}-of-[0-9]{5})\.tempstate[0-9a-f]{16})");
  const std::string rest = file_name.substr(base.size());
  std::smatch m;
  if (std::regex_match(rest, m, staged)) {
    if (staged_prefix_name) *staged_prefix_name = base + rest.substr(0, rest.size() - m[1].length());
    return true;
  }
  if (staged_prefix_name) staged_prefix_name->clear();
  return std::regex_match(rest, renamed);
}

void remove_stale_temporaries(const std::string& prefix, const std::vector<std::string>& keep) {
  const fs::path p(prefix);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  const std::string base = p.filename().string();
  std::vector<std::string> doomed;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::string staged;
    if (!is_save_temporary(base, name, &staged)) continue;
    if (!staged.empty() && std::find(keep.begin(), keep.end(), staged) != keep.end()) continue;
    doomed.push_back((dir / name).string());
  }
  // Index files first: a data file alone is plainly debris, an index alone
  // would look like a damaged checkpoint.
  std::stable_partition(doomed.begin(), doomed.end(),
                        [](const std::string& f) { return f.find(".index") != std::string::npos; });
  for (const std::string& f : doomed) file_io::remove_quietly(f);
}

}  // namespace graft
