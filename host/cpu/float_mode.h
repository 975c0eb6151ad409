#pragma once
// The floating-point mode the CPU backend computes in: TensorFlow's. TF runs
// every CPU kernel with denormals flushed to zero (its executor and thread
// pools hold port::ScopedFlushDenormal: flush-to-zero for results and
// denormals-are-zero for inputs) and rounding to nearest. graft does the
// same, for TF's numbers and for speed: a denormal operand costs x86 a
// microcode assist of about a hundred cycles, and Adam's second moment
// (1 - beta2) * g * g of a small gradient is denormal often enough that
// half of a step went to it (docs/performance.md).
//
// The mode is per thread (MXCSR on x86-64). The backend's entry points hold
// a ScopedFlushDenormals; ThreadTeam::run hands the caller's mode to the
// parts its workers run. Elsewhere than x86-64 these are no-ops and
// denormals stay (documented in docs/training.md).
#include <cstdint>

#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
#define GRAFT_HAVE_MXCSR 1
#endif

namespace graft::cpu {

// This thread's floating-point control word (0 where there is none).
inline uint32_t float_mode() {
#ifdef GRAFT_HAVE_MXCSR
  return _mm_getcsr();
#else
  return 0;
#endif
}

inline void set_float_mode(uint32_t mode) {
#ifdef GRAFT_HAVE_MXCSR
  if (_mm_getcsr() != mode) _mm_setcsr(mode);
#else
  (void)mode;
#endif
}

// MXCSR's flush-to-zero (bit 15) and denormals-are-zero (bit 6).
constexpr uint32_t kFlushDenormalBits = 0x8040u;

// Denormal results and inputs read as zero until destruction, which
// restores the mode found (nesting is fine).
class ScopedFlushDenormals {
 public:
  ScopedFlushDenormals() : saved_(float_mode()) {
#ifdef GRAFT_HAVE_MXCSR
    set_float_mode(saved_ | kFlushDenormalBits);
#endif
  }
  ~ScopedFlushDenormals() { set_float_mode(saved_); }
  ScopedFlushDenormals(const ScopedFlushDenormals&) = delete;
  ScopedFlushDenormals& operator=(const ScopedFlushDenormals&) = delete;

 private:
  uint32_t saved_;
};

// Whether this thread flushes denormals now.
inline bool flushes_denormals() {
#ifdef GRAFT_HAVE_MXCSR
  return (float_mode() & kFlushDenormalBits) == kFlushDenormalBits;
#else
  return false;
#endif
}

}  // namespace graft::cpu
