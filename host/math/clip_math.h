#pragma once
// The one copy of gradient clipping (host/model/optimizer_config.h), for the
// CPU backend, the CUDA kernels and the fused program: by value,
// tf.clip_by_value, on each element right before the update rule; and the
// factor of clipping by global norm, tf.clip_by_global_norm, which every
// gradient element is multiplied by first.
#include <math.h>

#include "host/math/hd.h"

namespace graft::math {

// clamp(g, -limit, limit), or g when limit <= 0 (clipping off). Written as
// std::max then std::min would be, so a NaN gradient stays NaN.
GRAFT_HD inline float clip_by_value(float g, float limit) {
  if (!(limit > 0.0f)) return g;
  g = g < -limit ? -limit : g;
  return limit < g ? limit : g;
}

// The gradient an update rule sees: g * scale (scale: the global-norm
// factor, 1 without it), then clipped by value.
GRAFT_HD inline float clip_gradient(float g, float scale, float limit) {
  return clip_by_value(g * scale, limit);
}

// tf.clip_by_global_norm's factor clip_norm / max(clip_norm, norm), rounded
// to float once; NaN for a non-finite norm (TF then writes NaN everywhere).
GRAFT_HD inline float global_norm_scale(float clip_norm, double norm) {
  const double n = static_cast<double>(clip_norm);
  return isfinite(norm) ? static_cast<float>(n / (n < norm ? norm : n)) : NAN;
}

}  // namespace graft::math
