#include "tests/common/fixtures.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <random>

namespace fs = std::filesystem;

namespace graft::test {

std::optional<fs::path> fixtures_dir() {
  if (const char* env = std::getenv("GRAFT_FIXTURES"); env && *env) {
    if (fs::is_directory(env)) return fs::path(env);
    return std::nullopt;
  }
  const fs::path beside = fs::path(GRAFT_SOURCE_DIR).parent_path() / "shared" / "fixtures";
  if (fs::is_directory(beside)) return beside;
  return std::nullopt;
}

std::optional<fs::path> fixture(const std::string& relative) {
  auto dir = fixtures_dir();
  if (!dir) return std::nullopt;
  fs::path p = *dir / relative;
  if (!fs::exists(p)) return std::nullopt;
  return p;
}

TempDir::TempDir() {
  static std::atomic<unsigned> counter{0};
  std::random_device rd;
  const fs::path base = fs::path(GRAFT_BINARY_DIR) / "test-scratch";
  fs::create_directories(base);
  for (;;) {
    path_ = base / ("t" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
                    std::to_string(rd() % 100000));
    if (fs::create_directory(path_)) break;
  }
}

TempDir::~TempDir() {
  std::error_code ec;
  // Restore write permission first: tests make read-only directories.
  for (auto it = fs::recursive_directory_iterator(path_, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
  }
  fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
  fs::remove_all(path_, ec);
}

fs::path mnist_as_training_data(const fs::path& mnist, const TempDir& dir) {
  const fs::path data = dir / "data";
  fs::create_directories(data);
  for (const char* kind : {"images-idx3", "labels-idx1"}) {
    const std::string file = std::string("t10k-") + kind + "-ubyte.gz";
    fs::create_symlink(mnist / file, data / file);
    fs::create_symlink(mnist / file, data / (std::string("train-") + kind + "-ubyte.gz"));
  }
  return data;
}

fs::path graft_binary() { return fs::path(GRAFT_BINARY_DIR) / "tools" / "graft"; }
fs::path graft_test_hooks_binary() { return fs::path(GRAFT_BINARY_DIR) / "tests" / "graft-test-hooks"; }

CommandResult run_command(const std::string& command) {
  CommandResult result;
  const std::string full = command + " 2>&1";
  FILE* pipe = ::popen(full.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buf;
  size_t got;
  while ((got = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) result.output.append(buf.data(), got);
  const int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace graft::test
