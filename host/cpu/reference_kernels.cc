// The CPU twins of the CUDA kernels, on the scalar math of host/math/ that
// the kernels use too: the loss, the global norm's sum of squares and the
// row gather; every function makes a single pass over its data. The
// element-wise twins (bias + activation, its backward, the optimizer
// update) are in elementwise_kernels.cc, built per instruction set.
#include "host/cpu/reference_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "host/math/softmax_xent_math.h"

namespace graft::cpu {

void softmax_xent(const float* logits, const int32_t* labels, float* dlogits, int64_t rows,
                  int64_t classes, float grad_scale, double* loss_sum, int64_t* correct) {
  double loss_total = 0.0;
  int64_t hits = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* l = logits + r * classes;
    const int32_t label = labels[r];
    const bool label_ok = math::xent_label_valid(label, classes);
    float m = l[0];
    bool finite = true;
    for (int64_t c = 0; c < classes; ++c) {
      m = std::max(m, l[c]);
      finite = finite && std::isfinite(l[c]);
    }
    float sum = 0.0f;
    for (int64_t c = 0; c < classes; ++c) sum += std::exp(l[c] - m);
    loss_total += label_ok ? static_cast<double>(math::xent_row_loss(sum, l[label], m))
                           : std::numeric_limits<double>::infinity();
    if (label_ok) {
      bool above = false;
      for (int64_t c = 0; c < classes; ++c) above = above || l[c] > l[label];
      hits += math::xent_row_hit(label_ok, finite, above) ? 1 : 0;
    }
    if (dlogits) {
      float* d = dlogits + r * classes;
      const float inv = 1.0f / sum;
      for (int64_t c = 0; c < classes; ++c) d[c] = math::xent_logit_grad(l[c], m, inv, c == label, grad_scale);
    }
  }
  *loss_sum += loss_total;
  *correct += hits;
}

double sum_of_squares(const float* g, int64_t n) {
  // Eight independent float lanes (a reduction the compiler vectorises without
  // -ffast-math), folded into a double every block so long tensors lose no
  // precision.
  double total = 0.0;
  constexpr int64_t kBlock = 1024;
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t end = std::min(n, start + kBlock);
    float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = start;
    for (; i + 8 <= end; i += 8) {
      for (int k = 0; k < 8; ++k) lane[k] += g[i + k] * g[i + k];
    }
    for (; i < end; ++i) lane[0] += g[i] * g[i];
    for (float v : lane) total += v;
  }
  return total;
}

void gather_rows(const float* src, const uint32_t* index, float* out, int64_t n, int64_t cols) {
  const std::size_t row_bytes = static_cast<std::size_t>(cols) * sizeof(float);
  // The rows are random rows of the whole data set, mostly not in cache: ask
  // for the row kAhead places on while this one is copied (its first 4 KB;
  // the hardware prefetcher follows a longer row once it has started).
  // Batch 50: the training step 1.04-1.06x faster (docs/performance.md).
  constexpr int64_t kAhead = 4;
  const std::size_t prefetch_bytes = std::min<std::size_t>(row_bytes, 4096);
  for (int64_t i = 0; i < n; ++i) {
    if (i + kAhead < n) {
      const char* next = reinterpret_cast<const char*>(src + static_cast<int64_t>(index[i + kAhead]) * cols);
      for (std::size_t b = 0; b < prefetch_bytes; b += 64) __builtin_prefetch(next + b, 0, 3);
    }
    std::memcpy(out + i * cols, src + static_cast<int64_t>(index[i]) * cols, row_bytes);
  }
}

}  // namespace graft::cpu
