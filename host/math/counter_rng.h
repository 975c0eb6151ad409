#pragma once
// The one random function of graft's training step: Philox-4x32-10 (Salmon
// et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11; the generator
// TensorFlow's own stateless ops use), a pure function of a counter and a
// key. Dropout asks it for one number per (seed, step, node, row, column)
// (four neighbouring columns share one call: counter_words below),
// so the CPU backend and the CUDA kernels draw bit-identical masks from the
// same code, a replayed CUDA graph draws new masks each step (the step comes
// from device state), and no mask tensor has to outlive the step.
//
// Integer arithmetic only, so host and device agree to the bit; the float
// made from it (24 bits) is exact on both.
#include <stdint.h>

#include "host/math/hd.h"

namespace graft::math {

struct Philox4x32 {
  uint32_t v[4];
};

GRAFT_HD inline uint32_t mulhilo32(uint32_t a, uint32_t b, uint32_t* hi) {
  const uint64_t p = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// Ten rounds of Philox-4x32 on counter c with key (k0, k1): the reference
// constants of Random123 (and of TF's PhiloxRandom).
GRAFT_HD inline Philox4x32 philox4x32_10(Philox4x32 c, uint32_t k0, uint32_t k1) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = mulhilo32(kMul0, c.v[0], &hi0);
    const uint32_t lo1 = mulhilo32(kMul1, c.v[2], &hi1);
    const Philox4x32 next = {{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
    c = next;
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return c;
}

// The stream of element (row, column): word column % 4 of
//   philox4x32_10({column / 4, row, step_lo, step_hi}, counter_key(seed, node)),
// so one Philox call serves four neighbouring columns (a "group"): the CPU
// loop calls it once per group and uses all four words, the CUDA kernel
// calls it once per element and keeps the element's word; both give the
// same bits. (Before this contract each element took word 0 of a call of
// its own, with the column itself in the counter's first word.)
struct CounterKey {
  uint32_t k0, k1;
};

// The key: the seed's two words, the node mixed into the high one, so that
// distinct nodes of one run never share a stream, whatever their shapes.
GRAFT_HD inline CounterKey counter_key(uint64_t seed, uint32_t node) {
  return {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32) ^ (node * 0x85EBCA6Bu + 0x27D4EB2Fu)};
}

// The four words of group `group` (columns 4 * group .. 4 * group + 3) of
// row `row` at training step `step`.
GRAFT_HD inline Philox4x32 counter_words(CounterKey key, uint64_t step, uint32_t row, uint32_t group) {
  const Philox4x32 counter = {{group, row, static_cast<uint32_t>(step), static_cast<uint32_t>(step >> 32)}};
  return philox4x32_10(counter, key.k0, key.k1);
}

// A uniform float in [0, 1) from one word: its top 24 bits times 2^-24,
// exact in float on host and device.
// (Converted through int32, which holds 24 bits exactly: the same value, and
// a vector conversion on the CPU without AVX-512's unsigned one.)
GRAFT_HD inline float uniform_from_word(uint32_t w) {
  return static_cast<float>(static_cast<int32_t>(w >> 8)) * (1.0f / 16777216.0f);
}

struct Uniform4 {
  float u[4];
};

// The uniforms of the four columns 4 * group + k (k = 0..3) of row `row`.
GRAFT_HD inline Uniform4 counter_uniforms4(uint64_t seed, uint64_t step, uint32_t node, uint32_t row,
                                          uint32_t group) {
  const Philox4x32 w = counter_words(counter_key(seed, node), step, row, group);
  return {{uniform_from_word(w.v[0]), uniform_from_word(w.v[1]), uniform_from_word(w.v[2]),
           uniform_from_word(w.v[3])}};
}

// The uniform of element (row, column) of node `node` at training step
// `step` of a run seeded with `seed`: counter_uniforms4(..., column / 4).u[column % 4].
GRAFT_HD inline float counter_uniform(uint64_t seed, uint64_t step, uint32_t node, uint32_t row, uint32_t column) {
  const Philox4x32 w = counter_words(counter_key(seed, node), step, row, column >> 2);
  return uniform_from_word(w.v[column & 3u]);
}

// Inverted dropout as TF2's nn.dropout (and TF >= 1.14's, whose
// tf.layers.dropout calls it): a unit is kept when its uniform number is >=
// rate (`keep_mask = random_tensor >= rate`), and a kept unit is multiplied
// by scale = 1 / (1 - rate), which TF computes on the Python double and
// converts to the input's dtype (`dropout_scale` below). The unit is then
// multiplied by its mask value, scale or 0, as TF's x * scale * mask: a
// dropped unit is 0 with x's sign, and NaN when x is NaN or infinite, as in
// TF (one float multiply either way, and no branch, so the CPU loop
// vectorises). TF multiplies x * scale first and then by 1 or 0; the two
// orders give the same bits except for a finite x with |x * scale| above
// FLT_MAX, where TF's dropped unit is NaN and graft's 0.
GRAFT_HD inline bool dropout_keeps(float uniform, float rate) { return uniform >= rate; }
GRAFT_HD inline float dropout_scale(float rate) { return static_cast<float>(1.0 / (1.0 - static_cast<double>(rate))); }
GRAFT_HD inline float dropout_apply(float x, bool kept, float scale) { return x * (kept ? scale : 0.0f); }

}  // namespace graft::math
