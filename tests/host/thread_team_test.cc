// ThreadTeam: every part runs exactly once per job whoever claims it, the
// thread limit, and a thread that cannot be created is an error, not a hang
// (issue 15: --threads 1000 under a memory limit hung in the constructor).
#include "host/cpu/thread_team.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint/error.h"

namespace graft::cpu {
namespace {

TEST(ThreadTeam, EveryPartRunsOncePerJob) {
  ThreadTeam team(4);
  std::vector<std::atomic<int>> counts(4);
  for (int job = 0; job < 20000; ++job) {
    team.run([&](int part, int parts) {
      ASSERT_EQ(parts, 4);
      counts[static_cast<std::size_t>(part)].fetch_add(1);
    });
  }
  for (auto& c : counts) EXPECT_EQ(c.load(), 20000);
}

TEST(ThreadTeam, ASlowWorkerDoesNotStopTheOthers) {
  // Part 1 sleeps: the team still finishes every part, and each exactly once.
  ThreadTeam team(3);
  std::atomic<int> runs{0};
  for (int job = 0; job < 5; ++job) {
    team.run([&](int part, int) {
      if (part == 1) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      runs.fetch_add(1);
    });
  }
  EXPECT_EQ(runs.load(), 15);
}

TEST(ThreadTeam, RefusesMoreThanTheLimit) {
  const int limit = ThreadTeam::max_threads();
  EXPECT_GE(limit, 8);
  try {
    ThreadTeam team(limit + 1);
    FAIL() << "a team of " << limit + 1 << " threads was built";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(limit + 1) + " threads is more than the limit of " +
                                         std::to_string(limit)),
              std::string::npos)
        << e.what();
  }
}

// In a child with a small address-space limit (thread stacks do not fit), a
// big team fails to start a thread: the constructor must throw, and the
// child exit, within seconds.
TEST(ThreadTeam, ThreadCreationFailureIsAnErrorNotAHang) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's shadow memory does not fit an address-space limit";
#else
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
  GTEST_SKIP() << "AddressSanitizer's shadow memory does not fit an address-space limit";
#endif
#endif
  const int threads = ThreadTeam::max_threads();
  const pid_t pid = fork();
  if (pid == 0) {
    // The current mappings plus 16 MiB: one or two 8 MiB thread stacks, not `threads`.
    rlimit lim{};
    long pages = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
      if (std::fscanf(f, "%ld", &pages) != 1) pages = 0;
      std::fclose(f);
    }
    lim.rlim_cur = lim.rlim_max = static_cast<rlim_t>(pages) * static_cast<rlim_t>(sysconf(_SC_PAGESIZE)) + (16 << 20);
    if (pages == 0 || setrlimit(RLIMIT_AS, &lim) != 0) _exit(3);
    try {
      ThreadTeam team(threads);
      _exit(4);  // every thread started: the limit did not bite
    } catch (const Error& e) {
      _exit(std::strstr(e.what(), "cannot create thread") ? 0 : 5);
    } catch (...) {
      _exit(6);
    }
  }
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      FAIL() << "the constructor hung after a thread creation failure";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(WIFEXITED(status)) << "the child died of signal " << WTERMSIG(status);
  if (WEXITSTATUS(status) == 3) GTEST_SKIP() << "cannot limit the address space here";
  if (WEXITSTATUS(status) == 4) GTEST_SKIP() << "all " << threads << " threads started under the limit";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "5: the error does not say it could not create a thread; 6: not a graft::Error";
#endif
}

TEST(ThreadTeam, SplitRangeIsUnchanged) {
  // The split decides the results bit for bit: it must not change.
  EXPECT_EQ(split_range(100, 0, 3, 8).begin, 0);
  EXPECT_EQ(split_range(100, 0, 3, 8).end, 32);
  EXPECT_EQ(split_range(100, 1, 3, 8).end, 64);
  EXPECT_EQ(split_range(100, 2, 3, 8).end, 100);
}

}  // namespace
}  // namespace graft::cpu
