// Replays every input that once crashed a fuzzer (tools/fuzz), kept under
// tests/reliability/regressions/TARGET/, through the same harness the fuzzer
// runs. Under the sanitizer build (.ci/run) any report fails the test.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>

#include "tools/fuzz/harness.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

using Harness = std::function<void(const uint8_t*, std::size_t)>;

const std::map<std::string, Harness>& harnesses() {
  static const std::map<std::string, Harness> kHarnesses{
      {"fuzz_index", fuzz::index_one},
      {"fuzz_entry_proto", fuzz::entry_one},
      {"fuzz_state_file", fuzz::state_file_one},
      {"fuzz_idx", fuzz::idx_one},
  };
  return kHarnesses;
}

TEST(FuzzRegressions, EveryKeptInputRunsCleanly) {
  const fs::path root = fs::path(GRAFT_SOURCE_DIR) / "tests" / "reliability" / "regressions";
  int replayed = 0;
  for (const auto& [target, run] : harnesses()) {
    const fs::path dir = root / target;
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (!e.is_regular_file() || e.path().filename() == "README.md") continue;
      std::ifstream in(e.path(), std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      const std::string bytes = ss.str();
      SCOPED_TRACE(e.path().string());
      EXPECT_NO_THROW(run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
      ++replayed;
    }
  }
  std::printf("fuzzer regression inputs replayed: %d\n", replayed);
}

// The seeds' shapes, so every harness runs at least once even without
// regression files.
TEST(FuzzRegressions, HarnessesAcceptTrivialInputs) {
  for (const auto& [target, run] : harnesses()) {
    SCOPED_TRACE(target);
    for (const std::string& s : {std::string(), std::string(64, '\0'), std::string(100, '\xff')}) {
      EXPECT_NO_THROW(run(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
    }
  }
}

}  // namespace
}  // namespace graft
