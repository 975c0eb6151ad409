#pragma once
// Inverted dropout (tf.nn.dropout / tf.layers.dropout in training) on
// [rows, cols] row-major float32, with masks drawn from
// host/math/counter_rng.h: element (r, c) is kept when
// counter_uniform(seed, step, node, r, c) < keep = 1 - rate, and a kept
// element is scaled by inv_keep = 1.0f / keep. No mask is stored: the
// backward recomputes it. The CPU twins of cuda/dropout.h, bit-identical to
// them (integer arithmetic and one float multiply per element).
//
// rate in [0, 1) (else graft::Error); rate 0 is the identity (a copy).
// rows and cols below 2^32 (the counter's row and column words).
#include <cstdint>

namespace graft::cpu {

// y = x * mask * inv_keep; y may alias x.
void dropout_forward(const float* x, int64_t rows, int64_t cols, float rate, uint64_t seed,
                     uint64_t step, uint32_t node, float* y);

// dx = dy * mask * inv_keep with the forward's mask; dx may alias dy.
void dropout_backward(const float* dy, int64_t rows, int64_t cols, float rate, uint64_t seed,
                      uint64_t step, uint32_t node, float* dx);

}  // namespace graft::cpu
