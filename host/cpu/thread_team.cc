#include "host/cpu/thread_team.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <system_error>

#include "checkpoint/error.h"
#include "host/cpu/float_mode.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GRAFT_CPU_RELAX() _mm_pause()
#else
#define GRAFT_CPU_RELAX() std::this_thread::yield()
#endif

namespace graft::cpu {
namespace {
// How long an idle worker keeps spinning before it sleeps: longer than the
// gap between two jobs of a training step, short enough not to matter when
// the trainer pauses (evaluation on one thread, printing, saving).
constexpr auto kSpinTime = std::chrono::microseconds(2000);
// How long the caller spins for parts still running elsewhere before it
// blocks: a part of a step is tens of microseconds; a descheduled worker
// comes back only after a scheduler slice (milliseconds).
constexpr auto kCallerSpinTime = std::chrono::microseconds(50);
}  // namespace

int ThreadTeam::max_threads() {
  const unsigned hw = std::thread::hardware_concurrency();
  return static_cast<int>(std::max(8u, 4 * std::min(hw, 1u << 12)));
}

ThreadTeam::ThreadTeam(int threads) : parts_(threads < 1 ? 1 : threads) {
  if (parts_ > max_threads()) {
    throw Error("ThreadTeam: " + std::to_string(threads) + " threads is more than the limit of " +
                std::to_string(max_threads()) + " (4 per hardware thread)");
  }
  workers_.reserve(static_cast<std::size_t>(parts_ - 1));
  for (int part = 1; part < parts_; ++part) {
    try {
      workers_.emplace_back([this] { worker_loop(); });
    } catch (const std::system_error& e) {
      // Stop and join the ones that started: leaving the constructor with
      // joinable threads blocked on wake_ would hang or terminate.
      stop_workers();
      throw Error("ThreadTeam: cannot create thread " + std::to_string(part + 1) + " of " +
                  std::to_string(parts_) + ": " + e.what());
    }
  }
}

void ThreadTeam::stop_workers() noexcept {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

ThreadTeam::~ThreadTeam() { stop_workers(); }

void ThreadTeam::run_parts(uint64_t generation) {
  uint64_t c = claim_.load(std::memory_order_acquire);
  for (;;) {
    if ((c >> kPartBits) != generation) return;  // a later job (or none): not ours to run
    const int part = static_cast<int>(c & ((uint64_t{1} << kPartBits) - 1));
    if (part >= parts_) return;
    if (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    // The job cannot end (nor job_ change) before this part is done.
    set_float_mode(float_mode_);
    job_(ctx_, part, parts_);
    if (done_.fetch_add(1) + 1 == parts_ && caller_waiting_.load()) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_cv_.notify_one();
    }
    c = claim_.load(std::memory_order_acquire);
  }
}

void ThreadTeam::run_impl(Job job, void* ctx) {
  job_ = job;
  ctx_ = ctx;
  float_mode_ = float_mode();
  done_.store(0, std::memory_order_relaxed);
  const uint64_t generation = generation_.load(std::memory_order_relaxed) + 1;
  claim_.store(generation << kPartBits, std::memory_order_release);
  {
    // Publishing under the mutex means a worker that is about to sleep
    // either sees the new generation or gets the notification.
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.store(generation, std::memory_order_release);
  }
  wake_.notify_all();
  run_parts(generation);  // part 0 first, then any part no worker has taken yet
  if (done_.load(std::memory_order_acquire) == parts_) return;
  const auto until = std::chrono::steady_clock::now() + kCallerSpinTime;
  for (int spins = 1; done_.load(std::memory_order_acquire) != parts_; ++spins) {
    GRAFT_CPU_RELAX();
    if (spins % 64 == 0 && std::chrono::steady_clock::now() > until) {
      std::unique_lock<std::mutex> lock(mutex_);
      caller_waiting_.store(true);
      done_cv_.wait(lock, [&] { return done_.load() == parts_; });
      caller_waiting_.store(false);
      break;
    }
  }
}

void ThreadTeam::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    uint64_t now = generation_.load(std::memory_order_acquire);
    if (now == seen) {
      const auto until = std::chrono::steady_clock::now() + kSpinTime;
      int spins = 0;
      while ((now = generation_.load(std::memory_order_acquire)) == seen) {
        if (++spins < 4096) {
          GRAFT_CPU_RELAX();
        } else {
          std::this_thread::yield();
        }
        if (spins % 256 == 0 && std::chrono::steady_clock::now() > until) {
          std::unique_lock<std::mutex> lock(mutex_);
          wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        }
      }
    }
    seen = now;
    if (stop_.load()) return;
    run_parts(now);
  }
}

Range split_range(int64_t n, int part, int parts, int64_t align) {
  const int64_t units = (n + align - 1) / align;
  const int64_t begin = units * part / parts * align;
  const int64_t end = units * (part + 1) / parts * align;
  return {begin < n ? begin : n, end < n ? end : n};
}

}  // namespace graft::cpu
