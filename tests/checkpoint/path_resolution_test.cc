// resolve_checkpoint_path on a directory without a `checkpoint` state file:
// its only checkpoint is taken and said so; none or several are refused in
// one line (several named), never guessed between.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "checkpoint/error.h"
#include "checkpoint/path_resolution.h"
#include "tests/checkpoint/test_util.h"
#include "tests/common/fixtures.h"
#include "tests/common/error_of.h"
#include "tests/common/expect_contains.h"

namespace graft {
namespace {

std::string resolve_error(const std::string& path) {
  return test::error_of([&] { resolve_checkpoint_path(path); });
}

TEST(PathResolution, DirectoryWithoutStateFileTakesItsOnlyCheckpoint) {
  test::TempDir tmp;
  const std::string dir = tmp.path().string();
  EXPECT_CONTAINS(resolve_error(dir), "without a `checkpoint` state file or any .index file");
  // A folder named like an index file is not a checkpoint.
  std::filesystem::create_directory(dir + "/folder.index");
  EXPECT_CONTAINS(resolve_error(dir), "without a `checkpoint` state file or any .index file");

  test::write_bytes(dir + "/model.ckpt.index", "");
  test::write_bytes(dir + "/model.ckpt.meta", "");
  const ResolvedPrefix r = resolve_checkpoint_path(dir);
  EXPECT_EQ(r.prefix, dir + "/model.ckpt");
  EXPECT_CONTAINS(r.note, "the only checkpoint in " + dir);

  test::write_bytes(dir + "/model.ckpt-500.index", "");
  const std::string several = resolve_error(dir);
  EXPECT_CONTAINS(several, "holds several checkpoints (" + dir + "/model.ckpt, " + dir + "/model.ckpt-500): name one");
  EXPECT_EQ(several.find('\n'), std::string::npos) << several;

  // A state file still decides.
  test::write_bytes(dir + "/checkpoint", "model_checkpoint_path: \"model.ckpt-500\"\n");
  EXPECT_EQ(resolve_checkpoint_path(dir).prefix, dir + "/model.ckpt-500");
}

}  // namespace
}  // namespace graft
