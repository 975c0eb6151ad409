#pragma once
// The one copy of the regularizers' scalar rules (host/model/regularization.h
// says which parameter gets which), for the CPU backend and the CUDA kernels:
//
//   L1  tf.contrib.layers.l1_regularizer(s):  s * sum(|w|)
//       gradient s * sign(w), TF's sign (sign(0) = 0: AbsGrad is grad * sign(x))
//   L2  tf.contrib.layers.l2_regularizer(s):  s * tf.nn.l2_loss(w) = s * sum(w^2) / 2
//       gradient s * w (L2LossGrad is x * grad)
//   max-norm  tf.clip_by_norm(w, r, axes) after each update, per row (axes=1
//       of an [in, out] kernel) or per column (axes=0):
//         l2sum = sum(t * t);  l2norm = l2sum > 0 ? sqrt(l2sum) : l2sum
//         t = (t * r) / max(l2norm, r)
//       in that order (TF's clip_ops.py), so a row already within the limit
//       is still multiplied by r and divided by r, as TF does.
//
// The penalty's value is summed in double (the reported loss is a double);
// the gradient is float, added to the data gradient before any clipping, as
// TF computes the gradient of the total loss and then clips it.
#include <math.h>

#include "host/math/hd.h"

namespace graft::math {

// The penalty is summed per chunk of this many elements of one tensor (in
// double, then the chunks in order) on both backends: the CUDA kernel gives
// each chunk a block, the CPU sums the same chunks, so neither depends on
// the number of threads.
constexpr long long kPenaltyChunkElems = 4096;

// TF's sign: -1, 0 or 1 (0 for 0 and -0).
GRAFT_HD inline float tf_sign(float w) { return static_cast<float>((w > 0.0f) - (w < 0.0f)); }

// The gradient of the total loss for one element: the data gradient g plus
// the penalty's, l1 * sign(w) + l2 * w.
GRAFT_HD inline float regularized_gradient(float g, float w, float l1, float l2) {
  return g + (l1 * tf_sign(w) + l2 * w);
}

// One element's share of the penalty, before the scales: |w| and w^2 / 2.
GRAFT_HD inline double l1_term(float w) { return fabs(static_cast<double>(w)); }
GRAFT_HD inline double l2_term(float w) {
  const double d = static_cast<double>(w);
  return d * d * 0.5;
}

// The penalty of one tensor (or a chunk of it) from its sums of l1_term and l2_term.
GRAFT_HD inline double penalty(double l1, double sum_abs, double l2, double sum_half_squares) {
  return l1 * sum_abs + l2 * sum_half_squares;
}

// tf.clip_by_norm's divisor max(l2norm, r) for a row or column whose sum of
// squares is l2sum (summed in double by the callers, rounded to float once:
// TF sums float squares).
GRAFT_HD inline float clip_by_norm_divisor(float l2sum, float clip_norm) {
  const float l2norm = l2sum > 0.0f ? sqrtf(l2sum) : l2sum;
  return clip_norm < l2norm ? l2norm : clip_norm;
}

// One element of tf.clip_by_norm: (t * r) / divisor.
GRAFT_HD inline float clip_by_norm_element(float t, float clip_norm, float divisor) {
  return (t * clip_norm) / divisor;
}

}  // namespace graft::math
