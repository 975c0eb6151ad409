#include "host/cpu/blas_kernels.h"

#include <cblas.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace graft::cpu {
namespace {

constexpr const char* kFixedVar = "GRAFT_BLAS_CORE_FIXED";
constexpr const char* kPolicyVar = "GRAFT_BLAS_CORE";

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Set when use_best_blas_kernels could not re-execute.
std::string& exec_failure() {
  static std::string why;
  return why;
}

}  // namespace

KernelLevel core_level(const std::string& corename) {
  const std::string n = lower(corename);
  // OpenBLAS 0.3.x's x86-64 DYNAMIC_ARCH cores (driver/others/dynamic.c).
  for (const char* sse : {"katmai", "coppermine", "northwood", "prescott", "banias", "atom", "core2", "penryn",
                          "dunnington", "nehalem", "athlon", "opteron", "opteron_sse3", "barcelona", "nano",
                          "bobcat", "generic"}) {
    if (n == sse) return KernelLevel::kSse;
  }
  for (const char* avx : {"sandybridge", "bulldozer", "piledriver", "steamroller", "excavator"}) {
    if (n == avx) return KernelLevel::kAvx;
  }
  if (n == "haswell" || n == "zen") return KernelLevel::kAvx2;
  if (n == "skylakex" || n == "cooperlake" || n == "sapphirerapids") return KernelLevel::kAvx512;
  return KernelLevel::kUnknown;
}

KernelLevel cpu_level(const CpuFeatures& cpu) {
  if (cpu.avx512() && cpu.avx2 && cpu.fma) return KernelLevel::kAvx512;
  if (cpu.avx2 && cpu.fma) return KernelLevel::kAvx2;
  if (cpu.avx) return KernelLevel::kAvx;
  return KernelLevel::kSse;
}

std::string best_core(const CpuFeatures& cpu) {
  switch (cpu_level(cpu)) {
    case KernelLevel::kAvx512: return "SkylakeX";
    case KernelLevel::kAvx2: return cpu.amd_like() ? "Zen" : "Haswell";
    case KernelLevel::kAvx: return "Sandybridge";
    default: return "";
  }
}

CorePolicy parse_core_policy(const char* value, bool* ok) {
  if (ok) *ok = true;
  const std::string v = value ? lower(value) : "";
  if (v.empty()) return CorePolicy::kDefault;
  if (v == "auto") return CorePolicy::kAuto;
  if (v == "keep") return CorePolicy::kKeep;
  if (ok) *ok = false;
  return CorePolicy::kDefault;
}

CoreDecision decide_core(const CpuFeatures& cpu, const BlasState& s) {
  CoreDecision d;
  d.target = best_core(cpu);
  const KernelLevel have = core_level(s.corename);
  d.older = have != KernelLevel::kUnknown && cpu_level(cpu) > have;
  const std::string allows = "this CPU (" + cpu.flags() + ") allows " + d.target + " kernels";
  if (!d.older) {
    if (!s.fixed_from.empty()) {
      d.brief = "corrected from " + s.fixed_from;
      d.advice = "OpenBLAS ran its " + s.fixed_from + " kernels, older than " + allows +
                 "; graft ran itself again with OPENBLAS_CORETYPE=" + s.env_coretype;
    }
    return d;
  }
  if (!s.fixed_from.empty()) {  // graft already tried once: never loop
    d.brief = "OPENBLAS_CORETYPE=" + s.env_coretype + " not taken; " + d.target + " would suit this CPU";
    d.advice = "graft ran itself again with OPENBLAS_CORETYPE=" + s.env_coretype + " but OpenBLAS still runs its " +
               s.corename + " kernels; " + allows;
    return d;
  }
  if (!s.dynamic_arch) {
    d.brief = "single-core OpenBLAS build; " + d.target + " would suit this CPU";
    d.advice = "this OpenBLAS is built for one core (no DYNAMIC_ARCH), so OPENBLAS_CORETYPE cannot change it; " +
               allows + ": use a DYNAMIC_ARCH build such as Debian's libopenblas0-pthread";
    return d;
  }
  if (s.policy == CorePolicy::kKeep) {
    d.brief = "GRAFT_BLAS_CORE=keep; " + d.target + " would suit this CPU";
    d.advice = std::string(kPolicyVar) + "=keep: not corrected, though " + allows;
    return d;
  }
  if (!s.env_coretype.empty() && s.policy != CorePolicy::kAuto) {
    d.brief = "OPENBLAS_CORETYPE=" + s.env_coretype + " from the environment; " + d.target + " would suit this CPU";
    d.advice = "OPENBLAS_CORETYPE=" + s.env_coretype + " is set in the environment and kept, though " + allows +
               ": unset it, or set " + kPolicyVar + "=auto to let graft choose";
    return d;
  }
  d.reexec = true;
  // Seen only where nobody called use_best_blas_kernels (a program of the
  // library's user), or where its exec failed.
  d.brief = d.target + " would suit this CPU";
  d.advice = "OpenBLAS runs its " + s.corename + " kernels, older than " + allows +
             ": set OPENBLAS_CORETYPE=" + d.target + " (graft's programs do so themselves)";
  return d;
}

const BlasReport& blas_report() {
  static const BlasReport report = [] {
    BlasReport r;
    const std::string config = openblas_get_config();  // "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..."
    const std::size_t second_space = config.find(' ', config.find(' ') + 1);
    r.library = config.substr(0, second_space);
    r.core = openblas_get_corename();
    BlasState s;
    s.corename = r.core;
    s.dynamic_arch = config.find("DYNAMIC_ARCH") != std::string::npos;
    s.env_coretype = env("OPENBLAS_CORETYPE");
    s.fixed_from = env(kFixedVar);
    const std::string policy = env(kPolicyVar);
    bool ok = true;
    s.policy = parse_core_policy(policy.c_str(), &ok);
    r.decision = decide_core(host_cpu_features(), s);
    if (!ok) r.decision.advice += std::string(r.decision.advice.empty() ? "" : "; ") + kPolicyVar + "=" + policy +
                                  " not understood (auto or keep), ignored";
    return r;
  }();
  return report;
}

std::string blas_summary() {
  const BlasReport& r = blas_report();
  std::string s = r.library + ", " + r.core + " kernels";
  std::string brief = r.decision.brief;
  if (!exec_failure().empty()) brief = exec_failure();
  if (!brief.empty()) s += " [" + brief + "]";
  return s;
}

void use_best_blas_kernels(char** argv) {
  const BlasReport& r = blas_report();
  if (!r.decision.reexec || argv == nullptr || argv[0] == nullptr) return;
  const std::string target = r.decision.target;
  const std::string saved = env("OPENBLAS_CORETYPE");
  const bool had = std::getenv("OPENBLAS_CORETYPE") != nullptr;
  setenv("OPENBLAS_CORETYPE", target.c_str(), 1);
  setenv(kFixedVar, r.core.c_str(), 1);
  std::fflush(nullptr);
  execv("/proc/self/exe", argv);
  // Still here: run on with the kernels we have, and say so.
  const int err = errno;
  if (had) setenv("OPENBLAS_CORETYPE", saved.c_str(), 1);
  else unsetenv("OPENBLAS_CORETYPE");
  unsetenv(kFixedVar);
  exec_failure() = "could not re-run with OPENBLAS_CORETYPE=" + target + ": " + std::strerror(err);
}

}  // namespace graft::cpu
