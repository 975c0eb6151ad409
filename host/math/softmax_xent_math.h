#pragma once
// The one copy of sparse softmax cross-entropy's scalar rules (TF's
// SparseSoftmaxCrossEntropyWithLogits and in_top_k with k = 1), for the CPU
// reference, the CUDA kernel and the fused program. Each caller reduces a
// row its own way (a loop, a warp, a thread over a shared-memory tile) to
// its maximum m, its sum s = sum exp(l - m), whether every logit is finite
// and whether some logit is strictly above the label's; these functions turn
// those into the loss, the hit and the gradient, in one order for everyone.
#include <math.h>
#include <stdint.h>

#include "host/math/hd.h"

namespace graft::math {

// A label outside [0, classes) gives an infinite loss and no hit (TF raises;
// graft counts it so the epoch's mean loss says something is wrong).
GRAFT_HD inline bool xent_label_valid(int32_t label, int64_t classes) { return label >= 0 && label < classes; }

// loss = log(sum exp(l - m)) - (l[label] - m): never overflows.
GRAFT_HD inline float xent_row_loss(float sum_exp, float label_logit, float max_logit) {
  return logf(sum_exp) - (label_logit - max_logit);
}

// A hit needs finite logits and no logit strictly above the label's, so
// ties count as hits (in_top_k) and a NaN row never does.
GRAFT_HD inline bool xent_row_hit(bool label_valid, bool all_finite, bool any_logit_above_label) {
  return label_valid && all_finite && !any_logit_above_label;
}

// d loss / d logit: (softmax - onehot) * grad_scale (1 / batch rows for a mean loss).
GRAFT_HD inline float xent_logit_grad(float logit, float max_logit, float inv_sum_exp, bool is_label, float grad_scale) {
  const float p = expf(logit - max_logit) * inv_sum_exp;
  return (p - (is_label ? 1.0f : 0.0f)) * grad_scale;
}

}  // namespace graft::math
