#pragma once
// What the instruction-set builds of the CPU loops share (batch_norm_kernels.cc,
// elementwise_kernels.cc): the loops are templates over the activation or
// optimizer kind, always inlined into one entry point per instruction set
// (baseline x86-64, AVX2), so each entry point compiles them for its own
// target; the entry points pick the kind with a switch, because a lambda's
// body (math::dispatch_activation's) would not inherit the target attribute.
// The files that use this are compiled with -fno-math-errno and
// -fno-trapping-math (host/CMakeLists.txt), which change no result, so that
// sqrtf and the activations' selects vectorise.
#include "host/model/activation.h"
#include "host/model/optimizer_config.h"

#if defined(__GNUC__) || defined(__clang__)
#define GRAFT_ISA_INLINE __attribute__((always_inline)) inline
#else
#define GRAFT_ISA_INLINE inline
#endif

// CALL(K) for the activation kind `kind`, K a constant.
#define GRAFT_ACTIVATION_SWITCH(kind, CALL)                                   \
  switch (kind) {                                                             \
    case ActivationKind::kIdentity: CALL(ActivationKind::kIdentity); break;   \
    case ActivationKind::kRelu: CALL(ActivationKind::kRelu); break;           \
    case ActivationKind::kElu: CALL(ActivationKind::kElu); break;             \
    case ActivationKind::kSelu: CALL(ActivationKind::kSelu); break;           \
    case ActivationKind::kLeakyRelu: CALL(ActivationKind::kLeakyRelu); break; \
    case ActivationKind::kTanh: CALL(ActivationKind::kTanh); break;           \
    case ActivationKind::kSigmoid: CALL(ActivationKind::kSigmoid); break;     \
  }

// CALL(K) for the optimizer kind `kind`.
#define GRAFT_OPTIMIZER_SWITCH(kind, CALL)                                \
  switch (kind) {                                                         \
    case OptimizerKind::kSgd: CALL(OptimizerKind::kSgd); break;           \
    case OptimizerKind::kMomentum: CALL(OptimizerKind::kMomentum); break; \
    case OptimizerKind::kNesterov: CALL(OptimizerKind::kNesterov); break; \
    case OptimizerKind::kAdagrad: CALL(OptimizerKind::kAdagrad); break;   \
    case OptimizerKind::kRmsProp: CALL(OptimizerKind::kRmsProp); break;   \
    case OptimizerKind::kAdam: CALL(OptimizerKind::kAdam); break;         \
  }

// The AVX2 build exists where the compiler can target it (x86-64, GCC or
// Clang); whether it runs is the CPU's (host_cpu_features().avx2).
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GRAFT_ISA_AVX2 1
#endif

namespace graft::cpu {

// How many builds there are (0 baseline, 1 avx2 where compiled), and their names.
inline int isa_build_count() {
#ifdef GRAFT_ISA_AVX2
  return 2;
#else
  return 1;
#endif
}
inline const char* isa_build_name(int v) { return v == 0 ? "baseline" : v == 1 ? "avx2" : "?"; }

}  // namespace graft::cpu
