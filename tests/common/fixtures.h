#pragma once
// Locating the real TensorFlow fixtures (../shared/fixtures beside the
// checkout, or $GRAFT_FIXTURES) and scratch directories for tests.
#include <filesystem>
#include <optional>
#include <string>

namespace graft::test {

// The fixtures folder, or nullopt when it is absent.
std::optional<std::filesystem::path> fixtures_dir();

// A fixture path relative to the fixtures folder (e.g. "tf1/seed_original"),
// or nullopt when the folder or the file is absent.
std::optional<std::filesystem::path> fixture(const std::string& relative);

// A fresh empty directory under the build tree's scratch area, removed by
// the destructor. Tests that corrupt or rewrite fixtures work on copies here.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// A data folder in `dir` whose train-* and t10k-* files are both links to the
// MNIST test set fixture (the fixtures hold t10k only). `mnist` is the
// fixture folder (GRAFT_REQUIRE_FIXTURE(mnist, "mnist")).
std::filesystem::path mnist_as_training_data(const std::filesystem::path& mnist, const TempDir& dir);

// Path of the built graft CLI (build/tools/graft).
std::filesystem::path graft_binary();
// The same CLI with its test hooks on (tools/graft/hooks/test_hooks.h).
std::filesystem::path graft_test_hooks_binary();

// Runs a shell command, returning its exit status and captured stdout+stderr.
struct CommandResult {
  int status = -1;
  std::string output;
};
CommandResult run_command(const std::string& command);

}  // namespace graft::test

// Skips the current test with a clear message when a fixture is missing.
#define GRAFT_REQUIRE_FIXTURE(var, relative)                                          \
  auto var##_opt = ::graft::test::fixture(relative);                                  \
  if (!var##_opt) {                                                                   \
    GTEST_SKIP() << "fixture " << (relative)                                          \
                 << " not found (looked in $GRAFT_FIXTURES and ../shared/fixtures)"; \
  }                                                                                   \
  const std::filesystem::path var = *var##_opt
