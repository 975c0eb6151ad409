#pragma once
// Interrupt-safe training: while an InterruptGuard lives, SIGINT and SIGTERM
// do not kill the process; the first one raises a stop flag (give flag() to
// TrainOptions::stop), so the trainer finishes the current step, saves a
// checkpoint and returns. Every later SIGINT/SIGTERM is ignored, with a note
// on stderr, so a second Ctrl-C cannot cut a save short (the save is atomic
// anyway: temporary files, fsync, rename). SIGQUIT (Ctrl-\) or SIGKILL still
// end the process at once.
//
// One guard at a time (the handlers are process-wide); the destructor puts
// back the previous handlers.
#include <atomic>
#include <cstdint>

namespace graft {

class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  // Raised by the first SIGINT or SIGTERM while a guard lives (static, so
  // TrainOptions::stop can point at it before the guard is installed).
  static const std::atomic<bool>* flag();
  // The first signal received (SIGINT or SIGTERM), 0 when none.
  int signal() const;

  // "SIGINT", "SIGTERM" (else "a signal").
  static const char* signal_name(int sig);
  // Keep ignoring SIGINT and SIGTERM after the guard is gone instead of
  // putting back the previous handlers: for a process that exits right after
  // (graft train), so a late signal cannot kill it between the save and exit.
  void hold() { hold_ = true; }

  // The shell's convention for a process ended by `sig`: 128 + sig (130 for
  // SIGINT, 143 for SIGTERM).
  static int exit_code(int sig) { return 128 + sig; }

 private:
  bool hold_ = false;
};

}  // namespace graft
