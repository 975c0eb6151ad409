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

#include "checkpoint/bundle_reader.h"
#include "checkpoint/error.h"
#include "tools/fuzz/harness.h"
#include "host/data/npy.h"
#include "host/restore/keras_metadata.h"
#include "host/restore/keras_model.h"
#include "tests/common/error_of.h"

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
      {"fuzz_meta_graph", fuzz::meta_graph_one},
      {"fuzz_npy", fuzz::npy_one},
      {"fuzz_csv", fuzz::csv_one},
      {"fuzz_npz", fuzz::npz_one},
      {"fuzz_keras_metadata", fuzz::keras_metadata_one},
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

namespace graft {
namespace {

// The two inputs fuzz_index found, checked for their clear error (the replay
// above only proves they do not crash; the snappy one would merely allocate
// gigabytes without the fix on a machine that has them).
TEST(FuzzRegressions, IndexInputsGiveTheirOneLineErrors) {
  const fs::path dir = fs::path(GRAFT_SOURCE_DIR) / "tests" / "reliability" / "regressions" / "fuzz_index";
  const std::map<std::string, std::string> expected{
      {"snappy-claims-gigabytes", "impossible uncompressed size"},
      {"entry-lengths-wrap-32-bits", "malformed entry"},
  };
  for (const auto& [name, message] : expected) {
    SCOPED_TRACE(name);
    std::ifstream in(dir / name, std::ios::binary);
    ASSERT_TRUE(in) << "missing regression input";
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string fixed = fuzz::with_fixed_block_crcs(ss.str());
    const fs::path tmp = fs::temp_directory_path() / ("graft-fuzz-regression-" + name);
    fs::create_directories(tmp);
    { std::ofstream(tmp / "ckpt.index", std::ios::binary) << fixed; }
    { std::ofstream(tmp / "ckpt.data-00000-of-00001", std::ios::binary) << std::string(4096, '\0'); }
    try {
      BundleReader::open((tmp / "ckpt").string());
      ADD_FAILURE() << "expected an error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "not one line: " << e.what();
    }
    fs::remove_all(tmp);
  }
}

// What fuzz_npy found: an empty array (a zero dimension) whose other
// dimensions multiply past 64 bits; refused as empty before multiplying.
TEST(FuzzRegressions, NpyEmptyShapeIsRefusedBeforeItsDimensionsMultiply) {
  const fs::path file =
      fs::path(GRAFT_SOURCE_DIR) / "tests" / "reliability" / "regressions" / "fuzz_npy" / "empty_shape_overflow";
  std::ifstream in(file, std::ios::binary);
  ASSERT_TRUE(in) << "missing regression input";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string bytes = ss.str();
  const NpyArray a = parse_npy(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "x.npy", DataLimits{});
  try {
    npy_features(a, "x.npy");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "x.npy: empty feature array (shape 0x80000000000100x4444444441)");
  }
}

}  // namespace
}  // namespace graft

namespace graft {
namespace {

using test::error_of;

// fuzz_keras_metadata's seeds run through its harness, and the first one is
// a model the harness's fixed variables hold: the fuzzer starts from inputs
// that reach the variable lookup, not only the parser.
TEST(FuzzRegressions, KerasMetadataSeedsReachTheVariables) {
  const auto seeds = fuzz::keras_metadata_seeds();
  ASSERT_GE(seeds.size(), 3u);
  for (const auto& [name, bytes] : seeds) {
    SCOPED_TRACE(name);
    EXPECT_NO_THROW(fuzz::keras_metadata_one(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  }
  const KerasModel k = parse_keras_metadata(seeds.front().second, "seed/keras_metadata.pb");
  ASSERT_EQ(k.layers.size(), 4u);  // dense, batch norm (relu after it), dropout, dense (softmax)
  EXPECT_EQ(k.layers[1].activation.kind, ActivationKind::kRelu);
  EXPECT_EQ(model_from_keras(k, fuzz::keras_metadata_variables()).architecture(), "8-4-3 (relu) + batch norm + dropout 0.5");
  EXPECT_EQ(parse_keras_metadata(seeds[1].second, "seed/keras_metadata.pb").layers.size(), 2u);
  EXPECT_NE(error_of([&] { parse_keras_metadata(seeds[2].second, "seed/keras_metadata.pb"); }).find("Conv2D"),
            std::string::npos);
}

}  // namespace
}  // namespace graft
