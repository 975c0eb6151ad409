#pragma once
// The one random function of graft's training step: Philox-4x32-10 (Salmon
// et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11; the generator
// TensorFlow's own stateless ops use), a pure function of a counter and a
// key. Dropout asks it for one number per (seed, step, node, row, column),
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

// A uniform float in [0, 1) for element (row, column) of node `node` at
// training step `step` of a run seeded with `seed`: 24 random bits times
// 2^-24, exact in float on host and device.
GRAFT_HD inline float counter_uniform(uint64_t seed, uint64_t step, uint32_t node, uint32_t row, uint32_t column) {
  const Philox4x32 counter = {{column, row, static_cast<uint32_t>(step), static_cast<uint32_t>(step >> 32)}};
  // The node goes into the key's high word: distinct nodes of one run never
  // share a stream, whatever their shapes.
  const uint32_t k0 = static_cast<uint32_t>(seed);
  const uint32_t k1 = static_cast<uint32_t>(seed >> 32) ^ (node * 0x85EBCA6Bu + 0x27D4EB2Fu);
  const Philox4x32 r = philox4x32_10(counter, k0, k1);
  return static_cast<float>(r.v[0] >> 8) * (1.0f / 16777216.0f);
}

// Inverted dropout (tf.nn.dropout / tf.layers.dropout in training): a unit
// is kept when its uniform number is below keep = 1 - rate, and a kept unit
// is scaled by 1 / keep. TF computes the scale as 1 / (1 - rate) in the
// input's dtype; `inv_keep` is that float, computed once by the caller.
GRAFT_HD inline bool dropout_keeps(float uniform, float keep) { return uniform < keep; }
GRAFT_HD inline float dropout_apply(float x, bool kept, float inv_keep) { return kept ? x * inv_keep : 0.0f; }

}  // namespace graft::math
