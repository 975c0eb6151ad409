// The save protocol under SIGKILL: a forked child saves and _exit()s just
// before its k-th filesystem-changing step (create, write, fsync, close,
// rename, link, unlink, directory sync: file_io's step hook), for every k
// until a save completes. After each death, every checkpoint the `checkpoint`
// state file names must open and pass its checksums, holding the old or the
// new values; a later save must succeed and leave no temporary behind. Also:
// a second concurrent saver to one prefix is refused.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <fstream>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/bundle_writer.h"
#include "checkpoint/error.h"
#include "checkpoint/file_io.h"
#include "checkpoint/state_file.h"
#include "host/train/checkpoint_rotation.h"
#include "tests/common/fixtures.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

constexpr int kKilled = 86;  // the child's exit status when the hook killed it
int64_t g_steps = 0;
int64_t g_kill_at = 0;

void kill_hook(const char*, const std::string&) {
  if (++g_steps == g_kill_at) _exit(kKilled);  // no destructors, no flush: as SIGKILL
}

// A checkpoint whose values all equal `fill` (two data blocks' worth).
void save(const std::string& prefix, float fill, const std::string& rotate_base = "", int keep = 0) {
  std::vector<float> big(70000, fill), small(10, fill);
  BundleWriter w(prefix);
  w.add_float("a/kernel", {700, 100}, big.data());
  w.add_float("a/bias", {10}, small.data());
  w.finish();
  record_checkpoint(prefix);  // as save_checkpoint does, still holding the lock
  if (!rotate_base.empty()) rotate_checkpoints(prefix, rotate_base, keep);
}

float verified_fill(const std::string& prefix) {
  const BundleReader r = BundleReader::open(prefix);
  for (const auto& e : r.entries()) r.verify(e);
  return r.read_float(*r.find("a/bias")).at(0);
}

// Forks a child that runs fn and dies before its k-th step; returns its exit
// status (kKilled, or 0 when fn finished first).
template <typename Fn>
int run_killed_at(int64_t k, Fn fn) {
  const pid_t pid = fork();
  if (pid == 0) {
    g_steps = 0;
    g_kill_at = k;
    file_io::testing::set_step_hook(kill_hook);
    try {
      fn();
    } catch (const std::exception& e) {
      fprintf(stderr, "child: %s\n", e.what());
      _exit(2);
    }
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

// Every entry of the state file opens, verifies and holds one of `fills`.
void expect_state_names_complete_checkpoints(const fs::path& dir, const std::vector<float>& fills) {
  const CheckpointState state = read_state_file((dir / "checkpoint").string());
  std::vector<std::string> entries = state.all_model_checkpoint_paths;
  entries.push_back(state.model_checkpoint_path);
  for (const std::string& e : entries) {
    try {
      const float fill = verified_fill((dir / e).string());
      EXPECT_NE(std::find(fills.begin(), fills.end(), fill), fills.end()) << e << " holds " << fill;
    } catch (const Error& err) {
      ADD_FAILURE() << "the state file names " << e << ", which is broken: " << err.what();
    }
  }
}

bool is_temporary(const std::string& name) {
  return name.find("tempstate") != std::string::npos || name.size() > 5 && name.substr(name.size() - 5) == ".lock";
}

std::vector<std::string> temporaries_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (is_temporary(e.path().filename().string())) out.push_back(e.path().filename().string());
  }
  return out;
}

// A scratch folder on tmpfs when there is one: the protocol's fsyncs cost
// nothing there, so ~120 killed saves take about a second even on a busy
// disk (the steps and their order are the same on any filesystem).
class ScratchDir {
 public:
  ScratchDir() {
    char templ[] = "/dev/shm/graft-save-kill-XXXXXX";
    if (::access("/dev/shm", W_OK) == 0 && ::mkdtemp(templ)) {
      path_ = templ;
    } else {
      fallback_ = std::make_unique<test::TempDir>();
      path_ = fallback_->path();
    }
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!fallback_) fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  std::unique_ptr<test::TempDir> fallback_;
  fs::path path_;
};

struct Scenario {
  const char* name;
  // Prepares the folder (old values: fill 1) and saves the new values (fill 2).
  void (*prepare)(const fs::path& dir);
  void (*save_new)(const fs::path& dir);
};

const Scenario kScenarios[] = {
    // `graft train --resume P --save P`: overwriting the state file's only checkpoint.
    {"overwrite the named checkpoint", [](const fs::path& d) { save((d / "model.ckpt").string(), 1); },
     [](const fs::path& d) { save((d / "model.ckpt").string(), 2); }},
    // `--save-every` with `--keep 2` saving a numbered checkpoint that is listed as an older one.
    {"overwrite a listed older checkpoint",
     [](const fs::path& d) {
       const std::string base = (d / "m").string();
       save(base + "-1", 1, base, 2);
       save(base + "-2", 1, base, 2);
     },
     [](const fs::path& d) {
       const std::string base = (d / "m").string();
       save(base + "-1", 2, base, 2);
     }},
    // A numbered save that pushes the oldest off the list (its files are deleted).
    {"rotate", [](const fs::path& d) {
       const std::string base = (d / "m").string();
       save(base + "-1", 1, base, 2);
       save(base + "-2", 1, base, 2);
     },
     [](const fs::path& d) {
       const std::string base = (d / "m").string();
       save(base + "-3", 2, base, 2);
     }},
};

TEST(SaveKill, EveryStepLeavesTheStateFileNamingCompleteCheckpoints) {
  for (const Scenario& sc : kScenarios) {
    SCOPED_TRACE(sc.name);
    int64_t k = 1;
    for (;; ++k) {
      ASSERT_LT(k, 400) << "the save never completed";
      ScratchDir tmp;
      sc.prepare(tmp.path());
      const int rc = run_killed_at(k, [&] { sc.save_new(tmp.path()); });
      ASSERT_TRUE(rc == kKilled || rc == 0) << "child exit " << rc << " at step " << k;
      {
        SCOPED_TRACE("killed before step " + std::to_string(k));
        expect_state_names_complete_checkpoints(tmp.path(), {1.0f, 2.0f});
        // The next save cleans up after the dead one.
        sc.save_new(tmp.path());
        expect_state_names_complete_checkpoints(tmp.path(), {1.0f, 2.0f});
        EXPECT_EQ(temporaries_in(tmp.path()), std::vector<std::string>{});
      }
      if (rc == 0) break;
      if (HasFailure()) return;
    }
    std::printf("%s: killed at each of %lld steps, the state file named complete checkpoints after each\n", sc.name,
                static_cast<long long>(k - 1));
  }
}

// Two kills in a row: after a kill that left the state file naming the
// backup (the prefix's own files may then be new data beside the old index),
// a second save dying at any step must not trade that complete backup for
// the prefix's broken files.
TEST(SaveKill, ASecondKillAfterTheFirstKeepsANamedCompleteCheckpoint) {
  const Scenario& sc = kScenarios[0];
  int64_t pairs = 0;
  for (int64_t k = 1; k < 400; ++k) {
    ScratchDir first;
    sc.prepare(first.path());
    if (run_killed_at(k, [&] { sc.save_new(first.path()); }) == 0) break;
    const std::string named = read_state_file((first.path() / "checkpoint").string()).model_checkpoint_path;
    if (named.find("tempstate") == std::string::npos) continue;  // not the case of interest
    for (int64_t j = 1; j < 400; ++j) {
      ScratchDir tmp;
      fs::copy(first.path(), tmp.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
      const int rc = run_killed_at(j, [&] { save((tmp.path() / "model.ckpt").string(), 3); });
      ASSERT_TRUE(rc == kKilled || rc == 0);
      SCOPED_TRACE("killed before step " + std::to_string(k) + ", then before step " + std::to_string(j));
      expect_state_names_complete_checkpoints(tmp.path(), {1.0f, 2.0f, 3.0f});
      ++pairs;
      if (rc == 0 || HasFailure()) break;
    }
    if (HasFailure()) break;
  }
  EXPECT_GT(pairs, 0) << "no kill left the state file naming the backup";
  std::printf("%lld pairs of kills, the state file named complete checkpoints after each\n",
              static_cast<long long>(pairs));
}

TEST(SaveKill, SecondConcurrentSaverIsRefused) {
  test::TempDir tmp;
  const std::string prefix = (tmp / "model.ckpt").string();
  save(prefix, 1);
  {
    BundleWriter first(prefix);
    try {
      BundleWriter second(prefix);
      FAIL() << "a second writer to one prefix was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("another save to this checkpoint prefix is in progress"), std::string::npos)
          << e.what();
    }
    BundleWriter other((tmp / "other.ckpt").string());  // another prefix in the folder is fine
  }
  save(prefix, 2);  // the lock is gone with the writer
  EXPECT_EQ(verified_fill(prefix), 2.0f);
  EXPECT_EQ(temporaries_in(tmp.path()), std::vector<std::string>{});
}

// Leftovers of a killed save are removed by the next save to that prefix,
// never another prefix's.
TEST(SaveKill, StaleTemporariesOfThisPrefixOnly) {
  test::TempDir tmp;
  const std::string prefix = (tmp / "model.ckpt").string();
  save(prefix, 1);
  const std::vector<std::string> stale = {"model.ckpt.tempstate0123456789abcdef.index",
                                          "model.ckpt.tempstate0123456789abcdef.data-00000-of-00001",
                                          "model.ckpt.data-00000-of-00001.tempstatefedcba9876543210",
                                          "model.ckpt.index.tempstatefedcba9876543210"};
  const std::vector<std::string> foreign = {"model.ckpt.v2.tempstate0123456789abcdef.index",
                                            "model.ckpt.v2.index.tempstatefedcba9876543210",
                                            "model.ckpt.tempstate0123.index"};
  for (const auto& n : stale) std::ofstream(tmp / n) << "x";
  for (const auto& n : foreign) std::ofstream(tmp / n) << "x";
  save(prefix, 2);
  for (const auto& n : stale) EXPECT_FALSE(fs::exists(tmp / n)) << n;
  for (const auto& n : foreign) EXPECT_TRUE(fs::exists(tmp / n)) << n;
}

}  // namespace
}  // namespace graft

namespace graft {
namespace {

void write_unrecorded(const std::string& prefix) {
  const float v = 7;
  BundleWriter w(prefix);
  w.add_float("a/bias", {1}, &v);
  w.finish();
}

// A save killed between the state file and the deletion of the dropped
// checkpoint leaves it unlisted; the next rotation deletes it (only the
// numbered versions older than every listed one).
TEST(SaveKill, RotationRemovesCheckpointsAKilledRotationLeft) {
  test::TempDir tmp;
  const std::string base = (tmp / "m").string();
  save(base + "-2", 1, base, 2);
  save(base + "-3", 1, base, 2);
  write_unrecorded(base + "-1");   // as if the rotation that dropped it was killed
  write_unrecorded(base + "-9");   // newer than the listed ones: not debris
  write_unrecorded(base + "x-1");  // another base
  save(base + "-4", 2, base, 2);
  EXPECT_FALSE(fs::exists(base + "-1.index"));
  EXPECT_FALSE(fs::exists(base + "-1.data-00000-of-00001"));
  EXPECT_FALSE(fs::exists(base + "-2.index"));  // dropped by this rotation
  EXPECT_TRUE(fs::exists(base + "-3.index"));
  EXPECT_TRUE(fs::exists(base + "-9.index"));
  EXPECT_TRUE(fs::exists(base + "x-1.index"));
}

}  // namespace
}  // namespace graft
