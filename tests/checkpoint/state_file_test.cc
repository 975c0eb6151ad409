#include "checkpoint/state_file.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "checkpoint/error.h"
#include "tests/checkpoint/test_util.h"
#include "tests/common/fixtures.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

TEST(StateFile, ReadsTfFixtures) {
  auto path = test::fixture("tf1/batchnorm/checkpoint");
  if (!path) GTEST_SKIP() << "fixtures not found";
  const CheckpointState s = read_state_file(path->string());
  EXPECT_EQ(s.model_checkpoint_path, "my_model_final.ckpt");
  EXPECT_EQ(s.all_model_checkpoint_paths, std::vector<std::string>{"my_model_final.ckpt"});
  EXPECT_TRUE(s.all_model_checkpoint_timestamps.empty());
  EXPECT_FALSE(s.last_preserved_timestamp);
}

TEST(StateFile, WritesTfBytesAndRoundTrips) {
  auto fixture = test::fixture("tf1/batchnorm/checkpoint");
  test::TempDir tmp;
  const std::string path = (tmp / "checkpoint").string();
  CheckpointState s;
  s.model_checkpoint_path = "my_model_final.ckpt";
  s.all_model_checkpoint_paths = {"my_model_final.ckpt"};
  write_state_file(path, s);
  const std::string expected =
      "model_checkpoint_path: \"my_model_final.ckpt\"\n"
      "all_model_checkpoint_paths: \"my_model_final.ckpt\"\n";
  EXPECT_EQ(test::read_bytes(path), expected);
  if (fixture) {
    EXPECT_EQ(test::read_bytes(fixture->string()), expected);  // byte for byte what TF wrote
  }

  s.model_checkpoint_path = "/abs/dir \"q\"\\x\n\xc3\xa9";
  s.all_model_checkpoint_paths = {"a-1", s.model_checkpoint_path};
  s.all_model_checkpoint_timestamps = {1700000000.25, 1700000123.0};
  s.last_preserved_timestamp = 1699999999.5;
  write_state_file(path, s);
  const std::string text = test::read_bytes(path);
  EXPECT_NE(text.find("all_model_checkpoint_timestamps: 1700000123.0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("last_preserved_timestamp: 1699999999.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\\\"q\\\"\\\\x\\n\\303\\251"), std::string::npos) << text;
  const CheckpointState back = read_state_file(path);
  EXPECT_EQ(back.model_checkpoint_path, s.model_checkpoint_path);
  EXPECT_EQ(back.all_model_checkpoint_paths, s.all_model_checkpoint_paths);
  EXPECT_EQ(back.all_model_checkpoint_timestamps, s.all_model_checkpoint_timestamps);
  EXPECT_EQ(back.last_preserved_timestamp, s.last_preserved_timestamp);
  EXPECT_EQ(test::list_dir(tmp.path()), std::vector<std::string>{"checkpoint"});  // no temp file left
}

TEST(StateFile, RejectsBadSyntaxAndUnknownFields) {
  test::TempDir tmp;
  const std::string path = (tmp / "checkpoint").string();
  test::write_bytes(path, "model_checkpoint_path: \"a\"\nsave_counter: 3\n");
  try {
    read_state_file(path);
    FAIL() << "unknown field accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": not a checkpoint state file: line 2"), std::string::npos)
        << e.what();
  }
  test::write_bytes(path, "model_checkpoint_path: \"unterminated\n");
  EXPECT_THROW(read_state_file(path), Error);
  EXPECT_THROW(read_state_file((tmp / "missing").string()), Error);
}

TEST(StateFile, RecordCheckpointKeepsNewestK) {
  test::TempDir tmp;
  const std::string dir = tmp.path().string();
  EXPECT_TRUE(record_checkpoint(dir + "/model.ckpt-1", 2).empty());
  EXPECT_TRUE(record_checkpoint(dir + "/model.ckpt-2", 2).empty());
  EXPECT_EQ(record_checkpoint(dir + "/model.ckpt-3", 2), std::vector<std::string>{dir + "/model.ckpt-1"});
  CheckpointState s = read_state_file(dir + "/checkpoint");
  EXPECT_EQ(s.model_checkpoint_path, "model.ckpt-3");
  EXPECT_EQ(s.all_model_checkpoint_paths, (std::vector<std::string>{"model.ckpt-2", "model.ckpt-3"}));
  ASSERT_EQ(s.all_model_checkpoint_timestamps.size(), 2u);
  EXPECT_LE(s.all_model_checkpoint_timestamps[0], s.all_model_checkpoint_timestamps[1]);
  EXPECT_GT(s.all_model_checkpoint_timestamps[0], 1.6e9);

  // Saving an existing name again moves it to the end instead of duplicating it.
  EXPECT_TRUE(record_checkpoint(dir + "/model.ckpt-2", 0).empty());
  s = read_state_file(dir + "/checkpoint");
  EXPECT_EQ(s.all_model_checkpoint_paths, (std::vector<std::string>{"model.ckpt-3", "model.ckpt-2"}));
  EXPECT_EQ(s.model_checkpoint_path, "model.ckpt-2");
}

TEST(StateFile, RecordCheckpointOnTf1FileWithoutTimestamps) {
  test::TempDir tmp;
  const std::string dir = tmp.path().string();
  test::write_bytes(dir + "/checkpoint",
                    "model_checkpoint_path: \"old\"\nall_model_checkpoint_paths: \"old\"\n");
  record_checkpoint(dir + "/new", 0);
  const CheckpointState s = read_state_file(dir + "/checkpoint");
  EXPECT_EQ(s.all_model_checkpoint_paths, (std::vector<std::string>{"old", "new"}));
  EXPECT_TRUE(s.all_model_checkpoint_timestamps.empty());  // they would not pair with the paths
}

}  // namespace
}  // namespace graft
