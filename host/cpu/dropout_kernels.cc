// Dropout's CPU kernels: one counter_uniform per element (host/math/
// counter_rng.h), the same call the CUDA kernels make, so the masks are
// bit-identical on both backends and the backward needs no stored mask.
#include "host/cpu/dropout_kernels.h"

#include <cstring>
#include <string>

#include "checkpoint/error.h"
#include "host/math/counter_rng.h"

namespace graft::cpu {
namespace {

void apply_mask(const char* what, const float* in, int64_t rows, int64_t cols, float rate, uint64_t seed,
                uint64_t step, uint32_t node, float* out) {
  if (!(rate >= 0.0f && rate < 1.0f)) {
    throw Error(std::string(what) + ": dropout rate " + std::to_string(rate) + " is outside [0, 1)");
  }
  if (rate == 0.0f) {
    if (out != in) std::memmove(out, in, static_cast<size_t>(rows * cols) * sizeof(float));
    return;
  }
  const float keep = 1.0f - rate;
  const float inv_keep = 1.0f / keep;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      const float u = math::counter_uniform(seed, step, node, static_cast<uint32_t>(r), static_cast<uint32_t>(c));
      out[o + c] = math::dropout_apply(in[o + c], math::dropout_keeps(u, keep), inv_keep);
    }
  }
}

}  // namespace

void dropout_forward(const float* x, int64_t rows, int64_t cols, float rate, uint64_t seed,
                     uint64_t step, uint32_t node, float* y) {
  apply_mask("dropout_forward", x, rows, cols, rate, seed, step, node, y);
}

void dropout_backward(const float* dy, int64_t rows, int64_t cols, float rate, uint64_t seed,
                      uint64_t step, uint32_t node, float* dx) {
  apply_mask("dropout_backward", dy, rows, cols, rate, seed, step, node, dx);
}

}  // namespace graft::cpu
