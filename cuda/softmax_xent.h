#pragma once
// Sparse softmax cross-entropy, forward and backward in one pass, with the
// top-1 count. CPU twin: graft::cpu::softmax_xent.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/device_state.h"

namespace graft::cuda {

// Per-block partial sums, added by the last block in block order (so the
// totals are the same on every run). Sized for max_rows.
struct XentWorkspace {
  double* loss_partials = nullptr;        // [xent_max_blocks(max_rows)]
  long long* correct_partials = nullptr;  // [xent_max_blocks(max_rows)]
  int64_t max_rows = 0;
};
constexpr int kXentRowsPerBlock = 8;  // one warp per row, 8 warps per block
constexpr int64_t kXentMaxBlocks = 1024;
inline int64_t xent_max_blocks(int64_t max_rows) {
  const int64_t b = (max_rows + kXentRowsPerBlock - 1) / kXentRowsPerBlock;
  return b < 1 ? 1 : (b > kXentMaxBlocks ? kXentMaxBlocks : b);
}

// logits [rows, classes], labels [rows]. Writes dlogits = (softmax -
// onehot(label)) * grad_scale when dlogits is not null, and adds the batch's
// loss sum and top-1 hits (ties count as hits; a row with a non-finite logit
// is a miss; a label outside [0, classes) gives loss +inf, no hit) to
// *totals. `arrivals` is a zero-initialised counter the kernel leaves at
// zero. rows <= ws.max_rows.
void softmax_xent(const float* logits, const int32_t* labels, float* dlogits, int64_t rows,
                  int64_t classes, float grad_scale, Totals* totals, unsigned* arrivals,
                  const XentWorkspace& ws, cudaStream_t stream);

}  // namespace graft::cuda
