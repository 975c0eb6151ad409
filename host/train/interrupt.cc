#include "host/train/interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include "checkpoint/error.h"

namespace graft {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};
std::atomic<bool> g_installed{false};
struct sigaction g_old_int, g_old_term;

void say(const char* text) {
  // write(2) is async-signal-safe; a short or failed write only loses the note.
  const ssize_t ignored = ::write(STDERR_FILENO, text, std::strlen(text));
  (void)ignored;
}

extern "C" void on_signal(int sig) {
  const int saved_errno = errno;
  int expected = 0;
  if (g_signal.compare_exchange_strong(expected, sig)) {
    g_stop.store(true);
    say(sig == SIGTERM ? "\ngraft: SIGTERM: stopping after the current step and saving a checkpoint\n"
                       : "\ngraft: SIGINT: stopping after the current step and saving a checkpoint\n");
  } else {
    say("graft: already stopping; the signal is ignored until the checkpoint is saved (Ctrl-\\ aborts)\n");
  }
  errno = saved_errno;
}

}  // namespace

InterruptGuard::InterruptGuard() {
  if (g_installed.exchange(true)) throw Error("an InterruptGuard is already installed");
  g_stop.store(false);
  g_signal.store(0);
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaddset(&action.sa_mask, SIGINT);
  sigaddset(&action.sa_mask, SIGTERM);
  action.sa_flags = SA_RESTART;  // a write interrupted by the signal resumes
  sigaction(SIGINT, &action, &g_old_int);
  sigaction(SIGTERM, &action, &g_old_term);
}

InterruptGuard::~InterruptGuard() {
  if (hold_) {
    std::signal(SIGINT, SIG_IGN);
    std::signal(SIGTERM, SIG_IGN);
  } else {
    sigaction(SIGINT, &g_old_int, nullptr);
    sigaction(SIGTERM, &g_old_term, nullptr);
  }
  g_installed.store(false);
}

const std::atomic<bool>* InterruptGuard::flag() { return &g_stop; }

int InterruptGuard::signal() const { return g_signal.load(); }

const char* InterruptGuard::signal_name(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    default: return "a signal";
  }
}


}  // namespace graft
