// Dropout's CPU kernels on host/math/counter_rng.h's contract: element (r, c)
// takes word c % 4 of Philox-4x32-10 at counter {c / 4, r, step}, the word
// counter_uniform(seed, step, node, r, c) returns (and the CUDA kernel uses),
// so the masks are bit-identical on both backends and the backward needs no
// stored mask.
//
// Speed: one Philox call per four columns (all its words used), and the
// calls of kGroups neighbouring groups computed side by side in plain
// uint32/uint64 arrays, which the compiler turns into vector code (the
// 32x32->64 multiplies into pmuludq/vpmuludq). The row loop is compiled
// three times, for baseline x86-64 (SSE2), AVX2 and AVX-512F, with the
// widest one the CPU and OS support chosen once at run time
// (host/cpu/cpu_features.h: CPUID and XGETBV), as checkpoint/crc32c.cc does
// for SSE4.2. All three compute the same integers and one float multiply
// per element, so they agree to the bit (tested against counter_uniform).
#include "host/cpu/dropout_kernels.h"

#include <cstring>
#include <string>

#include "checkpoint/error.h"
#include "host/cpu/cpu_features.h"
#include "host/cpu/dropout_variants.h"
#include "host/math/counter_rng.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif

namespace graft::cpu {
namespace {

// Groups (of four columns) per Philox batch: 16 groups = 64 columns, four
// 512-bit vectors of counter words.
constexpr int kGroups = 16;
constexpr int kCols = 4 * kGroups;

struct RowJob {
  math::CounterKey key;
  uint32_t step_lo, step_hi;
  float rate, scale;
};

// Philox's constants (host/math/counter_rng.h's philox4x32_10).
constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;

// words[4 * i + k] = word k of group g0 + i (i < kGroups) of row `row`:
// philox4x32_10 of host/math/counter_rng.h, one SIMD lane per group. Each
// lane is 64 bits wide and holds a counter word in its low half, so the
// 32x32->64 multiply is one (v)pmuludq per lane (it reads only the low
// halves; the high halves may hold garbage, which the final truncation
// drops). The portable loop below computes the same words; GCC does not
// vectorise it with (v)pmuludq (it emulates a full 64-bit product), hence
// the intrinsics.
inline void words_to_row(const uint64_t* c0, const uint64_t* c1, const uint64_t* c2, const uint64_t* c3,
                         uint32_t* __restrict words) {
  for (int i = 0; i < kGroups; ++i) {
    words[4 * i + 0] = static_cast<uint32_t>(c0[i]);
    words[4 * i + 1] = static_cast<uint32_t>(c1[i]);
    words[4 * i + 2] = static_cast<uint32_t>(c2[i]);
    words[4 * i + 3] = static_cast<uint32_t>(c3[i]);
  }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GRAFT_DROPOUT_X86 1

// SSE2 (baseline x86-64): two groups per vector, eight vectors per word.
void philox_groups_sse2(const RowJob& job, uint32_t row, uint32_t g0, uint32_t* __restrict words) {
  constexpr int kN = kGroups / 2;
  __m128i c0[kN], c1[kN], c2[kN], c3[kN];
  const __m128i m0 = _mm_set1_epi64x(kMul0), m1 = _mm_set1_epi64x(kMul1);
  for (int v = 0; v < kN; ++v) {
    c0[v] = _mm_set_epi64x(g0 + 2 * v + 1, g0 + 2 * v);
    c1[v] = _mm_set1_epi64x(row);
    c2[v] = _mm_set1_epi64x(job.step_lo);
    c3[v] = _mm_set1_epi64x(job.step_hi);
  }
  uint32_t k0 = job.key.k0, k1 = job.key.k1;
  for (int round = 0; round < 10; ++round) {
    const __m128i vk0 = _mm_set1_epi64x(k0), vk1 = _mm_set1_epi64x(k1);
    for (int v = 0; v < kN; ++v) {
      const __m128i p0 = _mm_mul_epu32(c0[v], m0), p1 = _mm_mul_epu32(c2[v], m1);
      c0[v] = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi64(p1, 32), c1[v]), vk0);
      c2[v] = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi64(p0, 32), c3[v]), vk1);
      c1[v] = p1;
      c3[v] = p0;
    }
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  alignas(64) uint64_t w0[kGroups], w1[kGroups], w2[kGroups], w3[kGroups];
  for (int v = 0; v < kN; ++v) {
    _mm_store_si128(reinterpret_cast<__m128i*>(w0 + 2 * v), c0[v]);
    _mm_store_si128(reinterpret_cast<__m128i*>(w1 + 2 * v), c1[v]);
    _mm_store_si128(reinterpret_cast<__m128i*>(w2 + 2 * v), c2[v]);
    _mm_store_si128(reinterpret_cast<__m128i*>(w3 + 2 * v), c3[v]);
  }
  words_to_row(w0, w1, w2, w3, words);
}

// AVX2: four groups per vector.
__attribute__((target("avx2"))) void philox_groups_avx2(const RowJob& job, uint32_t row, uint32_t g0,
                                                        uint32_t* __restrict words) {
  constexpr int kN = kGroups / 4;
  __m256i c0[kN], c1[kN], c2[kN], c3[kN];
  const __m256i m0 = _mm256_set1_epi64x(kMul0), m1 = _mm256_set1_epi64x(kMul1);
  for (int v = 0; v < kN; ++v) {
    const long long g = g0 + 4 * v;
    c0[v] = _mm256_set_epi64x(g + 3, g + 2, g + 1, g);
    c1[v] = _mm256_set1_epi64x(row);
    c2[v] = _mm256_set1_epi64x(job.step_lo);
    c3[v] = _mm256_set1_epi64x(job.step_hi);
  }
  uint32_t k0 = job.key.k0, k1 = job.key.k1;
  for (int round = 0; round < 10; ++round) {
    const __m256i vk0 = _mm256_set1_epi64x(k0), vk1 = _mm256_set1_epi64x(k1);
    for (int v = 0; v < kN; ++v) {
      const __m256i p0 = _mm256_mul_epu32(c0[v], m0), p1 = _mm256_mul_epu32(c2[v], m1);
      c0[v] = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p1, 32), c1[v]), vk0);
      c2[v] = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p0, 32), c3[v]), vk1);
      c1[v] = p1;
      c3[v] = p0;
    }
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  alignas(64) uint64_t w0[kGroups], w1[kGroups], w2[kGroups], w3[kGroups];
  for (int v = 0; v < kN; ++v) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(w0 + 4 * v), c0[v]);
    _mm256_store_si256(reinterpret_cast<__m256i*>(w1 + 4 * v), c1[v]);
    _mm256_store_si256(reinterpret_cast<__m256i*>(w2 + 4 * v), c2[v]);
    _mm256_store_si256(reinterpret_cast<__m256i*>(w3 + 4 * v), c3[v]);
  }
  words_to_row(w0, w1, w2, w3, words);
}

// AVX-512F: eight groups per vector. (GCC 12's _mm512_mul_epu32 warns
// under -Wuninitialized about its own _mm512_undefined_epi32 placeholder.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
__attribute__((target("avx512f"))) void philox_groups_avx512(const RowJob& job, uint32_t row, uint32_t g0,
                                                             uint32_t* __restrict words) {
  constexpr int kN = kGroups / 8;
  __m512i c0[kN], c1[kN], c2[kN], c3[kN];
  const __m512i m0 = _mm512_set1_epi64(kMul0), m1 = _mm512_set1_epi64(kMul1);
  for (int v = 0; v < kN; ++v) {
    const long long g = g0 + 8 * v;
    c0[v] = _mm512_set_epi64(g + 7, g + 6, g + 5, g + 4, g + 3, g + 2, g + 1, g);
    c1[v] = _mm512_set1_epi64(row);
    c2[v] = _mm512_set1_epi64(job.step_lo);
    c3[v] = _mm512_set1_epi64(job.step_hi);
  }
  uint32_t k0 = job.key.k0, k1 = job.key.k1;
  for (int round = 0; round < 10; ++round) {
    const __m512i vk0 = _mm512_set1_epi64(k0), vk1 = _mm512_set1_epi64(k1);
    for (int v = 0; v < kN; ++v) {
      const __m512i p0 = _mm512_mul_epu32(c0[v], m0), p1 = _mm512_mul_epu32(c2[v], m1);
      c0[v] = _mm512_xor_si512(_mm512_xor_si512(_mm512_srli_epi64(p1, 32), c1[v]), vk0);
      c2[v] = _mm512_xor_si512(_mm512_xor_si512(_mm512_srli_epi64(p0, 32), c3[v]), vk1);
      c1[v] = p1;
      c3[v] = p0;
    }
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  alignas(64) uint64_t w0[kGroups], w1[kGroups], w2[kGroups], w3[kGroups];
  for (int v = 0; v < kN; ++v) {
    _mm512_store_si512(w0 + 8 * v, c0[v]);
    _mm512_store_si512(w1 + 8 * v, c1[v]);
    _mm512_store_si512(w2 + 8 * v, c2[v]);
    _mm512_store_si512(w3 + 8 * v, c3[v]);
  }
  words_to_row(w0, w1, w2, w3, words);
}
#pragma GCC diagnostic pop

#else

// Elsewhere: the same words from the scalar function, one group at a time.
void philox_groups_portable(const RowJob& job, uint32_t row, uint32_t g0, uint32_t* __restrict words) {
  const uint64_t step = static_cast<uint64_t>(job.step_hi) << 32 | job.step_lo;
  for (int i = 0; i < kGroups; ++i) {
    const math::Philox4x32 w = math::counter_words(job.key, step, row, g0 + static_cast<uint32_t>(i));
    for (int k = 0; k < 4; ++k) words[4 * i + k] = w.v[k];
  }
}

#endif

// out[j] = dropout_apply(in[j], dropout_keeps(uniform(words[j]), rate), scale), j < n.
__attribute__((always_inline)) inline void apply_words(const RowJob& job, const uint32_t* __restrict words,
                                                       const float* in, float* out, int n) {
  for (int j = 0; j < n; ++j) {
    out[j] = math::dropout_apply(in[j], math::dropout_keeps(math::uniform_from_word(words[j]), job.rate), job.scale);
  }
}

// One row; in and out either equal (in place) or disjoint. kInPlace makes
// that visible to the compiler (one pointer), so the loop vectorises
// without a run-time overlap check that equal pointers would fail.
using PhiloxFn = void (*)(const RowJob&, uint32_t, uint32_t, uint32_t* __restrict);

template <PhiloxFn kPhilox, bool kInPlace>
__attribute__((always_inline)) inline void row_body(const RowJob& job, uint32_t row, const float* in,
                                                    float* out, int64_t cols) {
  alignas(64) uint32_t words[kCols];
  for (int64_t c = 0; c < cols; c += kCols) {
    kPhilox(job, row, static_cast<uint32_t>(c / 4), words);
    const int n = cols - c < kCols ? static_cast<int>(cols - c) : kCols;
    if constexpr (kInPlace) {
      apply_words(job, words, out + c, out + c, n);
    } else {
      apply_words(job, words, in + c, out + c, n);
    }
  }
}

template <PhiloxFn kPhilox, bool kInPlace>
__attribute__((always_inline)) inline void rows_body(const RowJob& job, const float* in, float* out,
                                                     int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    row_body<kPhilox, kInPlace>(job, static_cast<uint32_t>(r), in + r * cols, out + r * cols, cols);
  }
}

// The row loops, compiled for each instruction set (the apply loop is
// plain C++ and vectorises to that set's width).
template <PhiloxFn kPhilox>
__attribute__((always_inline)) inline void rows_any(const RowJob& job, const float* in, float* out,
                                                    int64_t rows, int64_t cols) {
  if (in == out) {
    rows_body<kPhilox, true>(job, in, out, rows, cols);
  } else {
    rows_body<kPhilox, false>(job, in, out, rows, cols);
  }
}

#ifdef GRAFT_DROPOUT_X86
void rows_baseline(const RowJob& job, const float* in, float* out, int64_t rows, int64_t cols) {
  rows_any<philox_groups_sse2>(job, in, out, rows, cols);
}
__attribute__((target("avx2"))) void rows_avx2(const RowJob& job, const float* in, float* out, int64_t rows,
                                               int64_t cols) {
  rows_any<philox_groups_avx2>(job, in, out, rows, cols);
}
__attribute__((target("avx512f"))) void rows_avx512(const RowJob& job, const float* in, float* out,
                                                    int64_t rows, int64_t cols) {
  rows_any<philox_groups_avx512>(job, in, out, rows, cols);
}
#else
void rows_baseline(const RowJob& job, const float* in, float* out, int64_t rows, int64_t cols) {
  rows_any<philox_groups_portable>(job, in, out, rows, cols);
}
#endif

using RowsFn = void (*)(const RowJob&, const float*, float*, int64_t, int64_t);

struct Variant {
  const char* name;
  RowsFn rows;
  bool (*supported)();
};

bool always() { return true; }
#ifdef GRAFT_DROPOUT_X86
bool has_avx2() { return host_cpu_features().avx2; }
bool has_avx512f() { return host_cpu_features().avx512f; }
// Widest last: the dispatch takes the last one this CPU supports.
constexpr Variant kVariants[] = {{"sse2", rows_baseline, always}, {"avx2", rows_avx2, has_avx2},
                                 {"avx512f", rows_avx512, has_avx512f}};
#else
constexpr Variant kVariants[] = {{"portable", rows_baseline, always}};
#endif
constexpr int kVariantCount = static_cast<int>(sizeof kVariants / sizeof kVariants[0]);

int best_variant() {
  int best = 0;
  for (int v = 0; v < kVariantCount; ++v) {
    if (kVariants[v].supported()) best = v;
  }
  return best;
}

void apply_mask(const char* what, const float* in, int64_t rows, int64_t cols, float rate, uint64_t seed,
                uint64_t step, uint32_t node, float* out, int variant) {
  if (!(rate >= 0.0f && rate < 1.0f)) {
    throw Error(std::string(what) + ": dropout rate " + std::to_string(rate) + " is outside [0, 1)");
  }
  if (rows <= 0 || cols <= 0) return;
  if (rate == 0.0f) {
    if (out != in) std::memmove(out, in, static_cast<size_t>(rows * cols) * sizeof(float));
    return;
  }
  const RowJob job{math::counter_key(seed, node), static_cast<uint32_t>(step), static_cast<uint32_t>(step >> 32),
                   rate, math::dropout_scale(rate)};
  kVariants[variant].rows(job, in, out, rows, cols);
}

int chosen() {
  static const int v = best_variant();
  return v;
}

}  // namespace

void dropout_forward(const float* x, int64_t rows, int64_t cols, float rate, uint64_t seed,
                     uint64_t step, uint32_t node, float* y) {
  apply_mask("dropout_forward", x, rows, cols, rate, seed, step, node, y, chosen());
}

void dropout_backward(const float* dy, int64_t rows, int64_t cols, float rate, uint64_t seed,
                      uint64_t step, uint32_t node, float* dx) {
  apply_mask("dropout_backward", dy, rows, cols, rate, seed, step, node, dx, chosen());
}

namespace dropout_variants {

int count() { return kVariantCount; }
const char* name(int v) { return kVariants[v].name; }
bool supported(int v) { return v >= 0 && v < kVariantCount && kVariants[v].supported(); }
int chosen() { return ::graft::cpu::chosen(); }

void forward(int v, const float* x, int64_t rows, int64_t cols, float rate, uint64_t seed, uint64_t step,
             uint32_t node, float* y) {
  if (!supported(v)) throw Error("dropout variant " + std::to_string(v) + " is not supported on this CPU");
  apply_mask("dropout_variants::forward", x, rows, cols, rate, seed, step, node, y, v);
}

}  // namespace dropout_variants
}  // namespace graft::cpu
