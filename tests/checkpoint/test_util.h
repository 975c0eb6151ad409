#pragma once
// Helpers shared by the checkpoint tests: the fixture checkpoints, copying
// one into a scratch directory, and whole-file bytes.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace graft::test {

// Prefixes of the TF-written fixture checkpoints, relative to the fixtures folder.
const std::vector<std::string>& fixture_prefixes();
// The absolute prefix, or nullopt when the fixtures are absent.
std::optional<std::string> fixture_prefix(const std::string& relative_prefix);

// Copies every file of checkpoint `prefix` into `dir`; returns the new prefix.
std::string copy_checkpoint(const std::string& prefix, const std::filesystem::path& dir);

std::string read_bytes(const std::string& path);
void write_bytes(const std::string& path, const std::string& bytes);
// The names of all files in dir (no directories), sorted.
std::vector<std::string> list_dir(const std::filesystem::path& dir);

}  // namespace graft::test

#define GRAFT_REQUIRE_FIXTURE_PREFIX(var, relative)                                  \
  auto var##_opt = ::graft::test::fixture_prefix(relative);                          \
  if (!var##_opt) GTEST_SKIP() << "fixture checkpoint " << (relative) << " not found"; \
  const std::string var = *var##_opt
