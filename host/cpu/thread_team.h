#pragma once
// A fixed team of threads for splitting one step's work (GEMM panels, row
// blocks, update ranges) between cores with microsecond latency: run() splits
// a job into size() parts, which the caller and the workers claim one at a
// time, and returns when all parts are done. The split never changes (part
// p always computes the same range, so results are bit-identical whoever
// runs it), but who runs a part does: when a worker is descheduled (another
// process busy on its core) the caller runs its part instead of waiting.
// Waiting is a bounded spin, then a blocking wait (condition variable):
// training issues thousands of small jobs a second, so a short spin saves a
// futex wake-up per job on a quiet machine, and under load nobody burns a
// core another thread needs. Each part runs in the caller's floating-point
// mode (host/cpu/float_mode.h: denormals flushed or not), whoever runs it.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace graft::cpu {

class ThreadTeam {
 public:
  // threads >= 1: the caller plus threads - 1 workers. Throws graft::Error
  // when threads exceeds max_threads() or a thread cannot be created (after
  // stopping the ones that were).
  explicit ThreadTeam(int threads);
  // The most threads a team may have: 4 per hardware thread, at least 8.
  static int max_threads();
  ~ThreadTeam();
  ThreadTeam(const ThreadTeam&) = delete;
  ThreadTeam& operator=(const ThreadTeam&) = delete;

  int size() const { return parts_; }

  // Calls fn(part, parts) for part = 0 .. parts-1, concurrently; parts =
  // size(). fn must not throw.
  template <typename F>
  void run(F&& fn) {
    if (workers_.empty()) {
      fn(0, 1);
      return;
    }
    run_impl(
        [](void* ctx, int part, int parts) { (*static_cast<std::remove_reference_t<F>*>(ctx))(part, parts); },
        &fn);
  }

 private:
  using Job = void (*)(void*, int, int);
  void run_impl(Job job, void* ctx);
  void run_parts(uint64_t generation);  // claims and runs parts of that job until none is left
  void worker_loop();
  void stop_workers() noexcept;

  static constexpr int kPartBits = 20;  // claim_ = generation << kPartBits | next unclaimed part
  const int parts_;
  std::vector<std::thread> workers_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> claim_{0};
  std::atomic<int> done_{0};  // parts finished of the current job
  std::atomic<bool> caller_waiting_{false};
  std::atomic<bool> stop_{false};
  Job job_ = nullptr;
  void* ctx_ = nullptr;
  uint32_t float_mode_ = 0;  // the caller's, for the parts workers run
  std::mutex mutex_;
  std::condition_variable wake_;  // workers: a new job or stop
  std::condition_variable done_cv_;  // the caller: the last part is done
};

// The half-open range [begin, end) of part `part` when n items are split
// into `parts` nearly equal pieces whose boundaries are multiples of `align`.
struct Range {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};
Range split_range(int64_t n, int part, int parts, int64_t align = 1);

}  // namespace graft::cpu
