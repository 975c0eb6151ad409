#pragma once
// The POSIX file operations the checkpoint writers use, each throwing
// graft::Error naming the file, plus a read-only memory map. Every operation
// that changes the filesystem (open for writing, write, fsync, close, rename,
// directory sync) passes through one counter so tests can make the Nth one fail.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace graft::file_io {

// A file opened for writing; closes (without syncing) on destruction.
class OutputFile {
 public:
  // Creates or truncates `path` (mode 0644).
  explicit OutputFile(std::string path);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  void write(const void* data, std::size_t n);  // all n bytes, or throws
  void sync();                                  // fsync
  void close();                                 // reports close() errors
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

// A read-only shared mapping of a whole file (empty files map to nothing).
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::string_view bytes() const { return {data_, size_}; }
  std::size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

void rename_file(const std::string& from, const std::string& to);  // atomic replace
// A second name for `from` (hard link; a copy where the filesystem has no
// hard links). `to` must not exist.
void link_file(const std::string& from, const std::string& to);
void sync_directory(const std::string& dir);
void remove_quietly(const std::string& path) noexcept;  // unlink, ignoring errors
bool exists(const std::string& path);
// Writes `contents` to `path` atomically: temp file beside it, fsync, rename.
void write_file_atomically(const std::string& path, std::string_view contents);
// "<path>.tempstate<random hex>", unique per call.
std::string temp_name(const std::string& path);
// The directory part of a path ("." when there is none).
std::string directory_of(const std::string& path);

// Test hooks: fail_at(n) makes the nth counted operation from now fail with
// EIO (0 disables); operations() says how many were counted since the last
// fail_at/reset. Not thread-safe; for tests only.
namespace testing {
void fail_at(int64_t n);
int64_t operations();
void reset();
// Called before every filesystem-changing step (create, write, fsync, close,
// rename, link, unlink, directory sync) with its name and path; the
// kill-at-each-step tests _exit() from it. Null (the default) disables it.
// Nothing in the library or the CLI sets it.
using StepHook = void (*)(const char* step, const std::string& path);
void set_step_hook(StepHook hook);
}  // namespace testing

}  // namespace graft::file_io
