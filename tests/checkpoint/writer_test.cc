// BundleWriter: contents, misuse, and atomicity under injected failures.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/bundle_writer.h"
#include "checkpoint/error.h"
#include "checkpoint/file_io.h"
#include "tests/checkpoint/test_util.h"
#include "tests/common/fixtures.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

// Writes a small checkpoint whose values all equal `fill`, ~2.5 MiB so the
// data file takes several buffered writes.
void write_version(const std::string& prefix, float fill) {
  std::vector<float> big(600000, fill), small(10, fill);
  BundleWriter w(prefix);
  w.add_float("a/kernel", {1000, 600}, big.data());
  w.add_float("a/bias", {10}, small.data());
  w.add_strings("names", {2}, {"x", std::to_string(fill)});
  w.add_float("b/kernel", {600, 1000}, big.data());
  w.finish();
}

float fill_of(const std::string& prefix) {
  const BundleReader r = BundleReader::open(prefix);
  for (const auto& e : r.entries()) r.verify(e);  // the whole checkpoint is consistent
  return r.read_float(*r.find("a/bias")).at(0);
}

TEST(Writer, WritesWhatItWasGiven) {
  test::TempDir tmp;
  const std::string prefix = (tmp / "sub/dir/model.ckpt").string();  // directories are created
  write_version(prefix, 2.5f);
  const BundleReader r = BundleReader::open(prefix);
  ASSERT_EQ(r.entries().size(), 4u);
  EXPECT_EQ(r.read_strings(*r.find("names")), (std::vector<std::string>{"x", "2.500000"}));
  EXPECT_EQ(r.find("b/kernel")->info.shape, (Shape{600, 1000}));
  const auto order = r.entries_in_data_order();
  EXPECT_EQ(order[0]->info.name, "a/kernel");
  EXPECT_EQ(order[2]->info.name, "names");
  EXPECT_EQ(order[3]->info.name, "b/kernel");
  EXPECT_EQ(test::list_dir(tmp / "sub/dir"),
            (std::vector<std::string>{"model.ckpt.data-00000-of-00001", "model.ckpt.index"}));
}

TEST(Writer, OtherDtypesAndEmptyCheckpoint) {
  test::TempDir tmp;
  const std::string prefix = (tmp / "m").string();
  {
    BundleWriter w(prefix);
    const int64_t step = 1234;
    w.add(TensorInfo{"global_step", DType::kInt64, {}}, &step, 8);
    const uint16_t half[2] = {0x3c00, 0xc000};
    w.add(TensorInfo{"h", DType::kHalf, {2}}, half, 4);
    w.add_float("empty", {0, 3}, nullptr);
    w.finish();
  }
  const BundleReader r = BundleReader::open(prefix);
  EXPECT_EQ(r.read_float(*r.find("global_step")), std::vector<float>{1234});
  EXPECT_EQ(r.read_float(*r.find("h")), (std::vector<float>{1, -2}));
  EXPECT_TRUE(r.read_float(*r.find("empty")).empty());

  const std::string none = (tmp / "none").string();
  BundleWriter(none).finish();
  EXPECT_TRUE(BundleReader::open(none).entries().empty());
  EXPECT_EQ(fs::file_size(none + ".data-00000-of-00001"), 0u);
}

TEST(Writer, RejectsMisuse) {
  test::TempDir tmp;
  BundleWriter w((tmp / "m").string());
  const float v[2] = {1, 2};
  w.add_float("x", {2}, v);
  EXPECT_THROW(w.add_float("x", {2}, v), Error);  // duplicate
  EXPECT_THROW(w.add(TensorInfo{"y", DType::kFloat, {3}}, v, 8), Error);  // size
  EXPECT_THROW(w.add(TensorInfo{"y", DType::kFloat, {-1}}, v, 8), Error);  // negative dim
  EXPECT_THROW(w.add(TensorInfo{"y", static_cast<DType>(55), {2}}, v, 8), Error);
  EXPECT_THROW(w.add(TensorInfo{"y", DType::kString, {2}}, v, 8), Error);
  EXPECT_THROW(w.add_strings("s", {3}, {"a"}), Error);
  EXPECT_THROW(w.add_float("", {2}, v), Error);  // the header key
  w.finish();
  EXPECT_THROW(w.finish(), Error);
  EXPECT_THROW(w.add_float("z", {2}, v), Error);
}

TEST(Writer, AbandonedWriterLeavesNothing) {
  test::TempDir tmp;
  {
    BundleWriter w((tmp / "m").string());
    const float v = 1;
    w.add_float("x", {}, &v);
  }
  EXPECT_TRUE(test::list_dir(tmp.path()).empty());
}

// Fail each counted filesystem operation of a save in turn: every failure
// must throw, leave the earlier checkpoint readable with its old values (or,
// when only the final directory sync failed, the complete new one), and
// leave no temporary files.
TEST(Writer, FailureAtEveryWriteKeepsEarlierCheckpoint) {
  test::TempDir tmp;
  const std::string prefix = (tmp / "model.ckpt").string();
  write_version(prefix, 1.0f);
  const auto files_before = test::list_dir(tmp.path());

  file_io::testing::fail_at(0);  // count the operations of a save over an earlier one
  write_version(prefix, 1.0f);
  const int64_t operations = file_io::testing::operations();
  ASSERT_GE(operations, 10);  // open, several data writes, sync, close, index writes, renames...

  int new_version_survivals = 0;
  for (int64_t k = 1; k <= operations; ++k) {
    SCOPED_TRACE("failing operation " + std::to_string(k) + " of " + std::to_string(operations));
    file_io::testing::fail_at(k);
    EXPECT_THROW(write_version(prefix, 2.0f), Error);
    file_io::testing::reset();
    EXPECT_EQ(test::list_dir(tmp.path()), files_before);
    const float fill = fill_of(prefix);
    if (fill == 2.0f) {
      ++new_version_survivals;
      EXPECT_EQ(k, operations) << "only the final directory sync comes after the commit";
      write_version(prefix, 1.0f);
    } else {
      EXPECT_EQ(fill, 1.0f);
    }
  }
  EXPECT_LE(new_version_survivals, 1);
  file_io::testing::fail_at(operations + 1);  // nothing fails
  write_version(prefix, 2.0f);
  file_io::testing::reset();
  EXPECT_EQ(fill_of(prefix), 2.0f);
}

TEST(Writer, FailureWithoutEarlierCheckpointLeavesNothing) {
  test::TempDir tmp;
  const std::string prefix = (tmp / "fresh").string();
  file_io::testing::fail_at(0);
  write_version(prefix, 1.0f);
  const int64_t operations = file_io::testing::operations();
  fs::remove(prefix + ".index");
  fs::remove(prefix + ".data-00000-of-00001");
  for (int64_t k = 1; k < operations; ++k) {  // all but the post-commit directory sync
    file_io::testing::fail_at(k);
    EXPECT_THROW(write_version(prefix, 2.0f), Error) << k;
    file_io::testing::reset();
    EXPECT_TRUE(test::list_dir(tmp.path()).empty()) << "after failing operation " << k;
  }
}

// Runs fn in a child process without root's right to ignore permissions;
// returns the child's exit status.
int run_unprivileged(const std::function<int()>& fn) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(99);
    int rc = 98;
    try {
      rc = fn();
    } catch (...) {
    }
    _exit(rc);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 97;
}

TEST(Writer, ReadOnlyDirectory) {
  test::TempDir tmp;
  const fs::path dir = tmp / "ro";
  fs::create_directories(dir);
  const std::string prefix = (dir / "model.ckpt").string();
  write_version(prefix, 1.0f);
  // The unprivileged child needs to reach the directory.
  for (fs::path p = dir; p != tmp.path().parent_path(); p = p.parent_path()) {
    fs::permissions(p, fs::perms::others_exec, fs::perm_options::add);
  }
  fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                           fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  const int rc = run_unprivileged([&] {
    if (::access(dir.c_str(), R_OK | X_OK) != 0) return 3;  // cannot even reach it
    try {
      write_version(prefix, 2.0f);
    } catch (const Error& e) {
      const std::string msg = e.what();
      return msg.find(dir.string()) != std::string::npos && msg.find("Permission denied") != std::string::npos
                 ? 0
                 : 2;
    }
    return 1;  // no error
  });
  if (rc == 99) GTEST_SKIP() << "cannot drop root privileges here";
  if (rc == 3) GTEST_SKIP() << "an unprivileged user cannot reach " << dir;
  EXPECT_EQ(rc, 0) << "1: no error was raised; 2: the message lacks the path or the cause";
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::add);
  EXPECT_EQ(fill_of(prefix), 1.0f);
  EXPECT_EQ(test::list_dir(dir).size(), 2u);
}

}  // namespace
}  // namespace graft
