#pragma once
// Which OpenBLAS kernels this process runs, and the correction when they are
// older than the CPU allows. OpenBLAS (DYNAMIC_ARCH builds such as Debian's)
// picks its kernels once, when it is loaded; a CPU it does not know gets its
// generic SSE3 "Prescott" kernels, 3-5x slower than the AVX2/AVX-512 ones.
// It reads OPENBLAS_CORETYPE only at load time, so the correction is to run
// the program again with OPENBLAS_CORETYPE set (use_best_blas_kernels).
//
// Policy, GRAFT_BLAS_CORE:
//   unset   correct OpenBLAS's own choice; an OPENBLAS_CORETYPE set in the
//           environment is kept (it may work around a crash on that
//           machine), and the report says what the CPU would allow
//   auto    correct even a user-set OPENBLAS_CORETYPE
//   keep    never correct; report only
#include <string>

#include "host/cpu/cpu_features.h"

namespace graft::cpu {

// Kernel generations of OpenBLAS's x86-64 cores, oldest first.
enum class KernelLevel { kUnknown = -1, kSse = 0, kAvx = 1, kAvx2 = 2, kAvx512 = 3 };

// Of an OpenBLAS core name ("Prescott", "Haswell", "Zen", "SkylakeX", ...;
// any case). Names it does not know (other architectures, newer cores) are
// kUnknown and never corrected.
KernelLevel core_level(const std::string& corename);
// The newest generation the CPU (and OS) can run.
KernelLevel cpu_level(const CpuFeatures& cpu);
// The OpenBLAS core to ask for on this CPU: SkylakeX (AVX-512 F/BW/VL/DQ),
// Zen (AMD or Hygon with AVX2+FMA), Haswell (other AVX2+FMA), Sandybridge
// (AVX); "" when nothing beats the generic kernels.
std::string best_core(const CpuFeatures& cpu);

enum class CorePolicy { kDefault, kAuto, kKeep };
// GRAFT_BLAS_CORE's value (nullptr or "": kDefault). Sets *ok false for
// anything but "", "auto" and "keep" (then kDefault).
CorePolicy parse_core_policy(const char* value, bool* ok = nullptr);

// What the decision looks at.
struct BlasState {
  std::string corename;      // openblas_get_corename()
  bool dynamic_arch = true;  // openblas_get_config() names DYNAMIC_ARCH (else OPENBLAS_CORETYPE is ignored)
  std::string env_coretype;  // OPENBLAS_CORETYPE, "" when unset
  std::string fixed_from;    // set when graft re-executed itself: the core OpenBLAS had picked
  CorePolicy policy = CorePolicy::kDefault;
};

struct CoreDecision {
  bool reexec = false;  // run again with OPENBLAS_CORETYPE=target
  std::string target;   // best_core() of the CPU
  bool older = false;   // the kernels in use are older than the CPU allows (and stay so unless reexec)
  std::string brief;    // for the one-line summary, e.g. "corrected from Prescott"; "" when all is well
  std::string advice;   // the full sentence for `graft --version`; "" when all is well
};

CoreDecision decide_core(const CpuFeatures& cpu, const BlasState& state);

// This process: library and version, kernels, and the decision.
struct BlasReport {
  std::string library;  // "OpenBLAS 0.3.21"
  std::string core;     // "Zen"
  CoreDecision decision;
};
const BlasReport& blas_report();
// "OpenBLAS 0.3.21, Zen kernels", plus " [brief]" when there is something to say.
std::string blas_summary();

// Call first in main(), before any thread starts: when the kernels are older
// than the CPU allows and the policy lets graft correct them, re-executes
// this program (/proc/self/exe, same arguments and environment plus
// OPENBLAS_CORETYPE and GRAFT_BLAS_CORE_FIXED, the guard against a second
// try). Returns when no correction is needed, allowed, or possible (an exec
// failure is then in the report).
void use_best_blas_kernels(char** argv);

}  // namespace graft::cpu
