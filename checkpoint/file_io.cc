#include "checkpoint/file_io.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

#include "checkpoint/error.h"

namespace graft::file_io {
namespace {

int64_t g_operations = 0;
int64_t g_fail_at = 0;
testing::StepHook g_step_hook = nullptr;

void step(const char* what, const std::string& path) {
  if (g_step_hook) g_step_hook(what, path);
}

// Counts one filesystem-changing operation; true when it must fail.
bool injected_failure() {
  ++g_operations;
  if (g_fail_at > 0 && g_operations == g_fail_at) {
    errno = EIO;
    return true;
  }
  return false;
}

[[noreturn]] void fail(const std::string& what, const std::string& path, int err) {
  throw Error("cannot " + what + " " + path + ": " + std::strerror(err));
}

}  // namespace

namespace testing {
void fail_at(int64_t n) {
  g_fail_at = n;
  g_operations = 0;
}
int64_t operations() { return g_operations; }
void reset() { fail_at(0); }
void set_step_hook(StepHook hook) { g_step_hook = hook; }
}  // namespace testing

OutputFile::OutputFile(std::string path) : path_(std::move(path)) {
  step("create", path_);
  if (injected_failure()) fail("create", path_, errno);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("create", path_, errno);
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) ::close(fd_);
}

void OutputFile::write(const void* data, std::size_t n) {
  step("write", path_);
  if (injected_failure()) fail("write", path_, errno);
  auto p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("write", path_, errno);
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void OutputFile::sync() {
  step("fsync", path_);
  if (injected_failure() || ::fsync(fd_) != 0) fail("sync", path_, errno);
}

void OutputFile::close() {
  if (fd_ < 0) return;
  step("close", path_);
  const int fd = fd_;
  fd_ = -1;
  if (injected_failure()) {
    ::close(fd);
    fail("close", path_, EIO);
  }
  if (::close(fd) != 0) fail("close", path_, errno);
}

MappedFile::MappedFile(const std::string& path) : path_(path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is then
  // refused below as not a regular file); regular files ignore the flag.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fail("open", path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    fail("stat", path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error("cannot read " + path + ": not a regular file");
  }
  size_ = static_cast<std::size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      fail("map", path, err);
    }
    data_ = static_cast<const char*>(p);
  }
  ::close(fd);  // the mapping keeps the file alive
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<char*>(data_), size_);
}

void rename_file(const std::string& from, const std::string& to) {
  step("rename", from);
  if (injected_failure() || ::rename(from.c_str(), to.c_str()) != 0) {
    throw Error("cannot rename " + from + " to " + to + ": " + std::strerror(errno));
  }
}

void sync_directory(const std::string& dir) {
  step("fsync directory", dir);
  if (injected_failure()) fail("sync directory", dir, errno);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail("open directory", dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some filesystems cannot fsync a directory; that is not a write failure.
  if (rc != 0 && err != EINVAL && err != EROFS) fail("sync directory", dir, err);
}

void remove_quietly(const std::string& path) noexcept {
  step("unlink", path);
  ::unlink(path.c_str());
}

void link_file(const std::string& from, const std::string& to) {
  step("link", from);
  if (injected_failure()) fail("link", to, errno);
  if (::link(from.c_str(), to.c_str()) == 0) return;
  const int err = errno;
  // Filesystems without hard links (FAT, some FUSE and network mounts): copy.
  if (err != EPERM && err != ENOTSUP && err != EMLINK && err != EXDEV) {
    fail("link " + from + " to", to, err);
  }
  const MappedFile in(from);
  OutputFile out(to);
  try {
    out.write(in.bytes().data(), in.size());
    out.sync();
    out.close();
  } catch (...) {
    ::unlink(to.c_str());
    throw;
  }
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string temp_name(const std::string& path) {
  // Reseeded in a forked child, which would otherwise repeat its parent's names.
  static pid_t seeded_for = 0;
  static std::mt19937_64 rng;
  if (seeded_for != ::getpid()) {
    seeded_for = ::getpid();
    rng.seed(std::random_device{}() ^ (static_cast<uint64_t>(seeded_for) << 32));
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return path + ".tempstate" + buf;
}

std::string directory_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

void write_file_atomically(const std::string& path, std::string_view contents) {
  const std::string tmp = temp_name(path);
  try {
    OutputFile out(tmp);
    out.write(contents.data(), contents.size());
    out.sync();
    out.close();
    rename_file(tmp, path);
  } catch (...) {
    remove_quietly(tmp);
    throw;
  }
  sync_directory(directory_of(path));
}

}  // namespace graft::file_io
