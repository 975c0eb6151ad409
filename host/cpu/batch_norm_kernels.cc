// Batch normalization's CPU kernels. Each activation is dispatched once per
// call (a template over the kind); the loops run over rows, then over the
// columns of a row, so the per-column accumulators vectorise and every
// column's sum is taken in row order (one thread: the result is the same
// whatever the backend's thread count).
//
// Vectorisation: every inner loop is over a row's contiguous columns with
// __restrict pointers. Where the API lets an output alias an input (y over
// x) the in-place case has its own instantiation that reads and writes
// through one pointer: a loop over two pointers that may overlap is
// versioned with a run-time overlap check, which equal pointers fail, so the
// in-place call would run the scalar copy. The backward computes
// g = act'(dy, y) into a row buffer in both passes (instead of storing it in
// dx in the first), so the first pass only reads and the second reads dy (or
// dx, the same memory) before it writes dx; fused into the reductions, GCC
// turns relu's select into a branch and vectorises neither loop. (Before
// this, the in-place relu backward ran scalar, 15x slower per element than
// the forward.)
//
// Instruction sets: the loops are compiled twice, for baseline x86-64 (SSE2)
// and for AVX2, and the AVX2 build runs where the CPU and OS support it
// (host/cpu/cpu_features.h), chosen once; elsewhere only the baseline
// exists. AVX2 without FMA: the compiler may not contract a * b + c into
// one rounding (GCC contracts by default in C++, and AVX-512F brings FMA
// with it, which is why there is no AVX-512 build: 185 contractions in this
// file), so both builds do the same float and double operations in the same
// order and give the same bits; only the vector width differs (1.6x on the
// backward and forward of 4096 x 300; tested bit-identical).
#include "host/cpu/batch_norm_kernels.h"
#include "host/cpu/batch_norm_variants.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "checkpoint/error.h"
#include "host/cpu/cpu_features.h"
#include "host/cpu/isa_builds.h"
#include "host/math/activation_math.h"
#include "host/math/batch_norm_math.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif

namespace graft::cpu {
namespace {

// ---- The loops (always inlined into each instruction set's entry points).

// sum[c] += x[r, c] over the rows, in double.
GRAFT_ISA_INLINE void column_sums(const float* x, int64_t rows, int64_t cols, double* __restrict sum) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* __restrict xr = x + r * cols;
    for (int64_t c = 0; c < cols; ++c) sum[c] += static_cast<double>(xr[c]);
  }
}

// sq[c] += (x[r, c] - mean[c])^2 over the rows, in double.
GRAFT_ISA_INLINE void column_squares(const float* x, int64_t rows, int64_t cols, const double* __restrict mean,
                                    double* __restrict sq) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* __restrict xr = x + r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      const double d = static_cast<double>(xr[c]) - mean[c];
      sq[c] += d * d;
    }
  }
}

// y = act(x * inv[c] + shift[c]) for every element; kInPlace: y is x.
template <ActivationKind K, bool kInPlace>
GRAFT_ISA_INLINE void normalise_rows(const float* x, int64_t rows, int64_t cols, const float* __restrict inv,
                                    const float* __restrict shift, float alpha, float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    float* __restrict yr = y + r * cols;
    if constexpr (kInPlace) {
      for (int64_t c = 0; c < cols; ++c) {
        yr[c] = math::activation<K>(math::batch_norm_apply(yr[c], inv[c], shift[c]), alpha);
      }
    } else {
      const float* __restrict xr = x + r * cols;
      for (int64_t c = 0; c < cols; ++c) {
        yr[c] = math::activation<K>(math::batch_norm_apply(xr[c], inv[c], shift[c]), alpha);
      }
    }
  }
}

template <ActivationKind K>
GRAFT_ISA_INLINE void normalise(const float* x, int64_t rows, int64_t cols, const float* inv, const float* shift,
                               float alpha, float* y) {
  if (x == y) {
    normalise_rows<K, true>(x, rows, cols, inv, shift, alpha, y);
  } else {
    normalise_rows<K, false>(x, rows, cols, inv, shift, alpha, y);
  }
}

// g = act'(dy, y) for one row, into the row buffer g.
template <ActivationKind K>
GRAFT_ISA_INLINE void activation_grad_row(const float* __restrict dyr, const float* __restrict yr, float alpha,
                                         int64_t cols, float* __restrict g) {
  for (int64_t c = 0; c < cols; ++c) g[c] = math::activation_grad<K>(dyr[c], yr[c], alpha);
}

// Pass 1 of the backward: sum_g[c] += g and sum_g_xhat[c] += g * xhat, with
// xhat = (x - mean) * rstd, in double, in row order. Reads only.
template <ActivationKind K>
GRAFT_ISA_INLINE void backward_reductions(const float* dy, const float* y, float alpha, const float* x,
                                         const float* __restrict mean, const float* __restrict rstd,
                                         int64_t rows, int64_t cols, float* __restrict g,
                                         double* __restrict sum_g, double* __restrict sum_g_xhat) {
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r * cols;
    activation_grad_row<K>(dy + o, y + o, alpha, cols, g);
    const float* __restrict xr = x + o;
    for (int64_t c = 0; c < cols; ++c) {
      const float xhat = (xr[c] - mean[c]) * rstd[c];
      sum_g[c] += static_cast<double>(g[c]);
      sum_g_xhat[c] += static_cast<double>(g[c]) * static_cast<double>(xhat);
    }
  }
}

// Pass 2: dx = batch_norm_input_grad(g, xhat, k, n, sdy, sdx), g recomputed
// into the row buffer before the row's dx is written (dx may be dy).
template <ActivationKind K>
GRAFT_ISA_INLINE void input_grad(const float* dy, const float* y, float alpha, const float* x,
                                const float* __restrict mean, const float* __restrict rstd,
                                const float* __restrict k, float n, const float* __restrict sdy,
                                const float* __restrict sdx, int64_t rows, int64_t cols, float* __restrict g,
                                float* dx) {
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r * cols;
    activation_grad_row<K>(dy + o, y + o, alpha, cols, g);
    const float* __restrict xr = x + o;
    float* __restrict dxr = dx + o;
    for (int64_t c = 0; c < cols; ++c) {
      const float xhat = (xr[c] - mean[c]) * rstd[c];
      dxr[c] = math::batch_norm_input_grad(g[c], xhat, k[c], n, sdy[c], sdx[c]);
    }
  }
}

// ---- One instruction set's entry points (host/cpu/isa_builds.h).
struct Loops {
  void (*column_sums)(const float* x, int64_t rows, int64_t cols, double* sum);
  void (*column_squares)(const float* x, int64_t rows, int64_t cols, const double* mean, double* sq);
  void (*normalise)(ActivationKind kind, const float* x, int64_t rows, int64_t cols, const float* inv,
                    const float* shift, float alpha, float* y);
  void (*backward_reductions)(ActivationKind kind, const float* dy, const float* y, float alpha, const float* x,
                              const float* mean, const float* rstd, int64_t rows, int64_t cols, float* g,
                              double* sum_g, double* sum_g_xhat);
  void (*input_grad)(ActivationKind kind, const float* dy, const float* y, float alpha, const float* x,
                     const float* mean, const float* rstd, const float* k, float n, const float* sdy,
                     const float* sdx, int64_t rows, int64_t cols, float* g, float* dx);
};

#define GRAFT_BN_NORMALISE(K) normalise<K>(x, rows, cols, inv, shift, alpha, y)
#define GRAFT_BN_REDUCTIONS(K) backward_reductions<K>(dy, y, alpha, x, mean, rstd, rows, cols, g, sum_g, sum_g_xhat)
#define GRAFT_BN_INPUT_GRAD(K) input_grad<K>(dy, y, alpha, x, mean, rstd, k, n, sdy, sdx, rows, cols, g, dx)

// GRAFT_BN_ENTRY_POINTS(prefix, attribute): the five entry points of one
// instruction set, each inlining the loops above.
#define GRAFT_BN_ENTRY_POINTS(P, TARGET)                                                                          \
  TARGET void P##_column_sums(const float* x, int64_t rows, int64_t cols, double* sum) {                          \
    column_sums(x, rows, cols, sum);                                                                              \
  }                                                                                                               \
  TARGET void P##_column_squares(const float* x, int64_t rows, int64_t cols, const double* mean, double* sq) {    \
    column_squares(x, rows, cols, mean, sq);                                                                      \
  }                                                                                                               \
  TARGET void P##_normalise(ActivationKind kind, const float* x, int64_t rows, int64_t cols, const float* inv,    \
                            const float* shift, float alpha, float* y) {                                          \
    GRAFT_ACTIVATION_SWITCH(kind, GRAFT_BN_NORMALISE)                                                             \
  }                                                                                                               \
  TARGET void P##_backward_reductions(ActivationKind kind, const float* dy, const float* y, float alpha,          \
                                      const float* x, const float* mean, const float* rstd, int64_t rows,         \
                                      int64_t cols, float* g, double* sum_g, double* sum_g_xhat) {                \
    GRAFT_ACTIVATION_SWITCH(kind, GRAFT_BN_REDUCTIONS)                                                            \
  }                                                                                                               \
  TARGET void P##_input_grad(ActivationKind kind, const float* dy, const float* y, float alpha, const float* x,   \
                             const float* mean, const float* rstd, const float* k, float n, const float* sdy,     \
                             const float* sdx, int64_t rows, int64_t cols, float* g, float* dx) {                 \
    GRAFT_ACTIVATION_SWITCH(kind, GRAFT_BN_INPUT_GRAD)                                                            \
  }                                                                                                               \
  constexpr Loops P##_loops = {P##_column_sums, P##_column_squares, P##_normalise, P##_backward_reductions,       \
                               P##_input_grad};

GRAFT_BN_ENTRY_POINTS(baseline, )
#ifdef GRAFT_ISA_AVX2
GRAFT_BN_ENTRY_POINTS(avx2, __attribute__((target("avx2"))))
#endif

const Loops& loops() {
#ifdef GRAFT_ISA_AVX2
  static const Loops& chosen = host_cpu_features().avx2 ? avx2_loops : baseline_loops;
  return chosen;
#else
  return baseline_loops;
#endif
}

// rstd[c] = 1 / sqrtf(variance[c] + epsilon), four columns per instruction
// on x86-64: sqrtf alone does not vectorise (errno: GCC keeps a scalar call
// for negative arguments), and at batch 50 the per-column square roots and
// divisions were a fifth of the forward. (v)sqrtps and (v)divps round
// correctly, as sqrtf and '/' do: the same bits.
void reciprocal_sqrt(const float* variance, float epsilon, int64_t cols, float* rstd) {
  int64_t c = 0;
#ifdef GRAFT_ISA_AVX2  // x86-64 (SSE is baseline there)
  const __m128 eps = _mm_set1_ps(epsilon), one = _mm_set1_ps(1.0f);
  for (; c + 4 <= cols; c += 4) {
    _mm_storeu_ps(rstd + c, _mm_div_ps(one, _mm_sqrt_ps(_mm_add_ps(_mm_loadu_ps(variance + c), eps))));
  }
#endif
  for (; c < cols; ++c) rstd[c] = 1.0f / sqrtf(variance[c] + epsilon);
}

// inv[c], shift[c] from per-feature statistics, given rstd[c] = 1 / sqrtf(
// variance + epsilon): math::batch_norm_inv is (1 / sqrtf(variance +
// epsilon)) * gamma, this is rstd * gamma, the same operations.
void scale_and_shift(const float* mean, const float* rstd, const float* gamma, const float* beta, int64_t cols,
                     float* inv, float* shift) {
  for (int64_t c = 0; c < cols; ++c) {
    inv[c] = rstd[c] * (gamma ? gamma[c] : 1.0f);
    shift[c] = math::batch_norm_shift(mean[c], inv[c], beta ? beta[c] : 0.0f);
  }
}

// Per-column scratch (sums, means, scales) reused by every call on this
// thread: the training loop calls these kernels every step, and the buffers
// grow once to the widest layer instead of being allocated per call. Zeroed
// on each use, as fresh vectors were.
struct Scratch {
  std::vector<double> d[2];
  std::vector<float> f[4];
};
double* scratch_doubles(int i, int64_t n) {
  thread_local Scratch s;
  std::vector<double>& v = s.d[i];
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<std::size_t>(n));
  std::fill_n(v.data(), n, 0.0);
  return v.data();
}
float* scratch_floats(int i, int64_t n) {
  thread_local Scratch s;
  std::vector<float>& v = s.f[i];
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<std::size_t>(n));
  std::fill_n(v.data(), n, 0.0f);
  return v.data();
}

void forward_train(const Loops& l, const float* x, int64_t rows, int64_t cols, const float* gamma,
                   const float* beta, float epsilon, Activation act, float* y, float* batch_mean, float* batch_var,
                   float* rstd) {
  if (rows < 1) throw Error("batch_norm_forward_train: a batch of " + std::to_string(rows) + " rows (pass at least 1)");
  double* sum = scratch_doubles(0, cols);
  double* mean = scratch_doubles(1, cols);
  l.column_sums(x, rows, cols, sum);
  const double n = static_cast<double>(rows);
  for (int64_t c = 0; c < cols; ++c) {
    mean[c] = sum[c] / n;
    sum[c] = 0.0;
  }
  l.column_squares(x, rows, cols, mean, sum);
  float* inv = scratch_floats(0, cols);
  float* shift = scratch_floats(1, cols);
  for (int64_t c = 0; c < cols; ++c) {
    batch_mean[c] = static_cast<float>(mean[c]);
    batch_var[c] = static_cast<float>(sum[c] / n);
  }
  reciprocal_sqrt(batch_var, epsilon, cols, rstd);
  scale_and_shift(batch_mean, rstd, gamma, beta, cols, inv, shift);
  l.normalise(act.kind, x, rows, cols, inv, shift, act.alpha, y);
}

void forward_infer(const Loops& l, const float* x, int64_t rows, int64_t cols, const float* gamma,
                   const float* beta, const float* moving_mean, const float* moving_var, float epsilon,
                   Activation act, float* y) {
  float* inv = scratch_floats(0, cols);
  float* shift = scratch_floats(1, cols);
  reciprocal_sqrt(moving_var, epsilon, cols, inv);  // rstd, then inv over it
  scale_and_shift(moving_mean, inv, gamma, beta, cols, inv, shift);
  l.normalise(act.kind, x, rows, cols, inv, shift, act.alpha, y);
}

void backward(const Loops& l, const float* dy, const float* y, Activation act, const float* x,
              const float* batch_mean, const float* rstd, const float* gamma, int64_t rows, int64_t cols, float* dx,
              float* dgamma, float* dbeta) {
  double* sum_g = scratch_doubles(0, cols);
  double* sum_g_xhat = scratch_doubles(1, cols);
  float* sdy = scratch_floats(0, cols);
  float* sdx = scratch_floats(1, cols);
  float* k = scratch_floats(2, cols);
  float* g = scratch_floats(3, cols);
  l.backward_reductions(act.kind, dy, y, act.alpha, x, batch_mean, rstd, rows, cols, g, sum_g, sum_g_xhat);
  const float n = static_cast<float>(rows);
  for (int64_t c = 0; c < cols; ++c) {
    sdy[c] = static_cast<float>(sum_g[c]);
    sdx[c] = static_cast<float>(sum_g_xhat[c]);
    k[c] = (gamma ? gamma[c] : 1.0f) * rstd[c] / n;
    if (dbeta) dbeta[c] = sdy[c];
    if (dgamma) dgamma[c] = sdx[c];
  }
  if (!dx) return;
  l.input_grad(act.kind, dy, y, act.alpha, x, batch_mean, rstd, k, n, sdy, sdx, rows, cols, g, dx);
}

const Loops* variant_loops(int v) {
  if (v == 0) return &baseline_loops;
#ifdef GRAFT_ISA_AVX2
  if (v == 1 && host_cpu_features().avx2) return &avx2_loops;
#endif
  return nullptr;
}

const Loops& loops_for(int v) {
  const Loops* l = variant_loops(v);
  if (!l) throw Error("batch norm variant " + std::to_string(v) + " is not supported on this CPU");
  return *l;
}

}  // namespace

void batch_norm_forward_train(const float* x, int64_t rows, int64_t cols, const float* gamma,
                              const float* beta, float epsilon, Activation act, float* y,
                              float* batch_mean, float* batch_var, float* rstd) {
  forward_train(loops(), x, rows, cols, gamma, beta, epsilon, act, y, batch_mean, batch_var, rstd);
}

void batch_norm_forward_infer(const float* x, int64_t rows, int64_t cols, const float* gamma,
                              const float* beta, const float* moving_mean,
                              const float* moving_var, float epsilon, Activation act, float* y) {
  forward_infer(loops(), x, rows, cols, gamma, beta, moving_mean, moving_var, epsilon, act, y);
}

void batch_norm_update_moving(float* moving_mean, float* moving_var, const float* batch_mean,
                              const float* batch_var, int64_t rows, int64_t cols, double momentum,
                              bool bessel_correction) {
  if (bessel_correction && rows < 2) {
    throw Error("batch_norm_update_moving: Bessel's correction needs a batch of at least 2 rows, got " +
                std::to_string(rows));
  }
  // TF computes 1 - momentum on the Python double and converts it to
  // float32 (0.01f for 0.99); 1.0f - 0.99f would be 0.00999999046.
  const float decay = static_cast<float>(1.0 - momentum);
  const float adjust = bessel_correction ? static_cast<float>(rows) / static_cast<float>(rows - 1) : 1.0f;
  for (int64_t c = 0; c < cols; ++c) {
    moving_mean[c] = math::moving_average_update(moving_mean[c], batch_mean[c], decay);
    const float v = bessel_correction ? batch_var[c] * adjust : batch_var[c];
    moving_var[c] = math::moving_average_update(moving_var[c], v, decay);
  }
}

void batch_norm_backward(const float* dy, const float* y, Activation act, const float* x,
                         const float* batch_mean, const float* rstd, const float* gamma,
                         int64_t rows, int64_t cols, float* dx, float* dgamma, float* dbeta) {
  backward(loops(), dy, y, act, x, batch_mean, rstd, gamma, rows, cols, dx, dgamma, dbeta);
}

namespace batch_norm_variants {

int count() { return isa_build_count(); }
const char* name(int v) { return isa_build_name(v); }
bool supported(int v) { return variant_loops(v) != nullptr; }

void forward_train(int v, const float* x, int64_t rows, int64_t cols, const float* gamma, const float* beta,
                   float epsilon, Activation act, float* y, float* batch_mean, float* batch_var, float* rstd) {
  ::graft::cpu::forward_train(loops_for(v), x, rows, cols, gamma, beta, epsilon, act, y, batch_mean, batch_var,
                              rstd);
}

void forward_infer(int v, const float* x, int64_t rows, int64_t cols, const float* gamma, const float* beta,
                   const float* moving_mean, const float* moving_var, float epsilon, Activation act, float* y) {
  ::graft::cpu::forward_infer(loops_for(v), x, rows, cols, gamma, beta, moving_mean, moving_var, epsilon, act, y);
}

void backward(int v, const float* dy, const float* y, Activation act, const float* x, const float* batch_mean,
              const float* rstd, const float* gamma, int64_t rows, int64_t cols, float* dx, float* dgamma,
              float* dbeta) {
  ::graft::cpu::backward(loops_for(v), dy, y, act, x, batch_mean, rstd, gamma, rows, cols, dx, dgamma, dbeta);
}

}  // namespace batch_norm_variants
}  // namespace graft::cpu
