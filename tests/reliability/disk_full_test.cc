// Writing checkpoints when the disk is full or a write fails: a clear error,
// the previous checkpoint (and `checkpoint` state file) untouched, no
// temporary files left. Injected failures at every write of a checkpoint and
// a read-only directory are covered in tests/checkpoint/writer_test.cc; here:
// a real ENOSPC from a small tmpfs (skipped where mounting is not permitted)
// and injected failures at every write of the state file.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/bundle_writer.h"
#include "checkpoint/error.h"
#include "checkpoint/file_io.h"
#include "checkpoint/state_file.h"
#include "tests/common/fixtures.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

// A tmpfs of `bytes` mounted at `dir` for the object's lifetime.
class SmallFilesystem {
 public:
  SmallFilesystem(const fs::path& dir, std::size_t bytes) : dir_(dir) {
    fs::create_directories(dir_);
    const std::string options = "size=" + std::to_string(bytes) + ",mode=0755";
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, options.c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ = std::strerror(errno);
    }
  }
  ~SmallFilesystem() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

 private:
  fs::path dir_;
  bool mounted_ = false;
  std::string error_;
};

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

void write_checkpoint(const std::string& prefix, std::size_t floats, float fill) {
  const std::vector<float> values(floats, fill);
  BundleWriter w(prefix);
  w.add_float("dense/kernel", {static_cast<int64_t>(floats)}, values.data());
  w.add_float("dense/bias", {1}, values.data());
  w.finish();
}

// Every tensor verified; returns the bias value.
float read_checkpoint(const std::string& prefix) {
  const BundleReader r = BundleReader::open(prefix);
  for (const auto& e : r.entries()) r.verify(e);
  return r.read_float(*r.find("dense/bias")).at(0);
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(DiskFull, CheckpointLargerThanTheDiskFailsCleanly) {
  test::TempDir tmp;
  const fs::path dir = tmp / "small";
  SmallFilesystem small(dir, 256 * 1024);
  if (!small.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (" << small.error() << ")";
  const std::string prefix = (dir / "model.ckpt").string();
  write_checkpoint(prefix, 1000, 1.0f);  // 4 KB
  record_checkpoint(prefix);
  const auto before = files_in(dir);
  const std::string state_before = read_text(dir / "checkpoint");

  // 2 MB of tensor data into a 256 KiB filesystem.
  try {
    write_checkpoint(prefix, 500000, 2.0f);
    FAIL() << "a checkpoint larger than the filesystem was written";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("No space left on device"), std::string::npos) << msg;
    EXPECT_NE(msg.find(dir.string()), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  EXPECT_EQ(files_in(dir), before) << "temporary files left behind";
  EXPECT_EQ(read_checkpoint(prefix), 1.0f);
  EXPECT_EQ(read_text(dir / "checkpoint"), state_before);

  // The space of the failed attempt was given back: a checkpoint that fits
  // can still be written over the old one.
  write_checkpoint(prefix, 2000, 3.0f);
  EXPECT_EQ(read_checkpoint(prefix), 3.0f);
  EXPECT_EQ(files_in(dir), before);
}

TEST(DiskFull, StateFileOnAFullDiskFailsCleanly) {
  test::TempDir tmp;
  const fs::path dir = tmp / "small";
  SmallFilesystem small(dir, 64 * 1024);
  if (!small.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (" << small.error() << ")";
  const std::string prefix = (dir / "model.ckpt").string();
  write_checkpoint(prefix, 10, 1.0f);
  record_checkpoint(prefix);
  const std::string state_before = read_text(dir / "checkpoint");
  {  // Fill the rest of the filesystem.
    std::ofstream filler(dir / "filler", std::ios::binary);
    const std::string block(4096, 'x');
    while (filler.write(block.data(), static_cast<std::streamsize>(block.size())) && filler.flush()) {
    }
  }
  const auto before = files_in(dir);
  try {
    record_checkpoint((dir / "model.ckpt-2").string());
    FAIL() << "the state file was written on a full filesystem";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("No space left on device"), std::string::npos) << msg;
    EXPECT_NE(msg.find((dir / "checkpoint").string()), std::string::npos) << msg;
  }
  EXPECT_EQ(files_in(dir), before) << "temporary files left behind";
  EXPECT_EQ(read_text(dir / "checkpoint"), state_before);
  EXPECT_EQ(read_checkpoint(prefix), 1.0f);
}

// Each counted filesystem operation of a state file update fails in turn:
// an error each time, the old state file intact (or, when only the final
// directory sync failed, the new one complete), no temporary files.
TEST(DiskFull, StateFileFailureAtEveryWriteKeepsThePreviousOne) {
  test::TempDir tmp;
  const std::string first = (tmp / "model.ckpt-1").string(), second = (tmp / "model.ckpt-2").string();
  record_checkpoint(first);
  const auto before = files_in(tmp.path());

  file_io::testing::fail_at(0);  // count the operations of one update
  record_checkpoint(second);
  const int64_t operations = file_io::testing::operations();
  file_io::testing::reset();
  ASSERT_GE(operations, 5);  // create, write, sync, close, rename, directory sync
  const std::string new_state_head = "model_checkpoint_path: \"model.ckpt-2\"\n";

  for (int64_t k = 1; k <= operations; ++k) {
    SCOPED_TRACE("failing operation " + std::to_string(k) + " of " + std::to_string(operations));
    record_checkpoint(first);  // back to the old state
    ASSERT_EQ(read_text(tmp / "checkpoint").rfind("model_checkpoint_path: \"model.ckpt-1\"\n", 0), 0u);
    file_io::testing::fail_at(k);
    EXPECT_THROW(record_checkpoint(second), Error);
    file_io::testing::reset();
    EXPECT_EQ(files_in(tmp.path()), before);
    const std::string now = read_text(tmp / "checkpoint");
    if (k == operations) {
      EXPECT_EQ(now.rfind(new_state_head, 0), 0u) << "only the directory sync comes after the rename";
    } else {
      EXPECT_EQ(now.rfind("model_checkpoint_path: \"model.ckpt-1\"\n", 0), 0u) << now;
    }
    EXPECT_NO_THROW(read_state_file((tmp / "checkpoint").string()));
  }
}

}  // namespace
}  // namespace graft
