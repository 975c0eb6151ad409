#include "host/cpu/thread_team.h"

#include <chrono>

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
}  // namespace

ThreadTeam::ThreadTeam(int threads) : parts_(threads < 1 ? 1 : threads) {
  workers_.reserve(parts_ - 1);
  for (int part = 1; part < parts_; ++part) workers_.emplace_back([this, part] { worker_loop(part); });
}

ThreadTeam::~ThreadTeam() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadTeam::run_impl(Job job, void* ctx) {
  job_ = job;
  ctx_ = ctx;
  pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  {
    // Publishing under the mutex means a worker that is about to sleep
    // either sees the new generation or gets the notification.
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  job(ctx, 0, size());
  // Spin while the workers finish; once that takes long, yield the core:
  // when other processes crowd the machine a descheduled worker needs it.
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < 4096) {
      GRAFT_CPU_RELAX();
    } else {
      std::this_thread::yield();
    }
  }
}

void ThreadTeam::worker_loop(int part) {
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
    job_(ctx_, part, size());
    pending_.fetch_sub(1, std::memory_order_release);
  }
}

Range split_range(int64_t n, int part, int parts, int64_t align) {
  const int64_t units = (n + align - 1) / align;
  const int64_t begin = units * part / parts * align;
  const int64_t end = units * (part + 1) / parts * align;
  return {begin < n ? begin : n, end < n ? end : n};
}

}  // namespace graft::cpu
