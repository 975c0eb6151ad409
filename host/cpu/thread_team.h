#pragma once
// A fixed team of threads for splitting one step's work (GEMM panels, row
// blocks, update ranges) between cores with microsecond latency: the caller
// runs part 0 itself while the workers run the others, and run() returns when
// all parts are done. Workers spin briefly between jobs (training issues
// thousands of small jobs a second; a futex wake-up per job would cost more
// than the job) and then sleep, so an idle backend burns no CPU.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace graft::cpu {

class ThreadTeam {
 public:
  explicit ThreadTeam(int threads);  // threads >= 1: the caller plus threads - 1 workers
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
  void worker_loop(int part);

  const int parts_;
  std::vector<std::thread> workers_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  Job job_ = nullptr;
  void* ctx_ = nullptr;
  std::mutex mutex_;
  std::condition_variable wake_;
};

// The half-open range [begin, end) of part `part` when n items are split
// into `parts` nearly equal pieces whose boundaries are multiples of `align`.
struct Range {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};
Range split_range(int64_t n, int part, int parts, int64_t align = 1);

}  // namespace graft::cpu
