#pragma once
// The one copy of the learning-rate schedules: TF1's tf.train.*_decay
// functions (learning_rate_decay.py) as a function of the global step, for
// the CPU backend, the CUDA update kernel and the fused program. `lr` is the
// optimizer's learning rate (the device state's, so reduce-on-plateau and
// Backend::set_learning_rate still move it); `step` is global_step before
// this update (the number of updates applied), as TF evaluates the decayed
// rate in the same run as the apply op that increments the step.
//
// As in TF1, everything is float32 (the learning rate's dtype; global_step
// and decay_steps are cast to it):
//   exponential   p = step / decay_steps (floor when staircase); lr * decay_rate^p
//   inverse_time  p as above;  lr / (1 + decay_rate * p)
//   natural_exp   p as above;  lr * exp(-decay_rate * p)
//   polynomial    cycle: decay_steps *= (step == 0 ? 1 : ceil(step / decay_steps));
//                 else step = min(step, decay_steps);
//                 (lr - end_lr) * (1 - step / decay_steps)^power + end_lr
//   cosine        step = min(step, decay_steps);
//                 lr * ((1 - alpha) * 0.5 * (1 + cos(pi * step / decay_steps)) + alpha)
//   piecewise     values[0] while step <= boundaries[0], values[i] while
//                 boundaries[i-1] < step <= boundaries[i], values[n] after
//                 (tf.train.piecewise_constant: the values ARE the rate; lr is unused)
//   constant, plateau: lr (plateau moves lr itself, on the host, per epoch)
// Plain data: a kernel takes it by value as part of math::OptimizerHyper.
#include <math.h>
#include <stdint.h>

#include "host/math/hd.h"

namespace graft::math {

enum class LrScheduleKind : int {
  kConstant = 0,
  kExponential,
  kPiecewise,
  kInverseTime,
  kNaturalExp,
  kPolynomial,
  kCosine,
  kPlateau,  // reduce on plateau: host side, per epoch (host/train/lr_schedule_spec.h)
};

inline constexpr int kMaxPiecewiseBoundaries = 16;

struct LrSchedule {
  LrScheduleKind kind = LrScheduleKind::kConstant;
  float decay_steps = 0.0f;  // exponential, inverse_time, natural_exp, polynomial, cosine
  float decay_rate = 0.0f;   // exponential, inverse_time, natural_exp
  bool staircase = false;    // exponential, inverse_time, natural_exp
  float end_lr = 0.0001f;    // polynomial (TF's end_learning_rate default)
  float power = 1.0f;        // polynomial
  bool cycle = false;        // polynomial
  float alpha = 0.0f;        // cosine: the floor, as a fraction of lr
  int num_boundaries = 0;    // piecewise: boundaries[0, n), values[0, n]
  int64_t boundaries[kMaxPiecewiseBoundaries] = {};
  float values[kMaxPiecewiseBoundaries + 1] = {};
  // Reduce on plateau (Keras ReduceLROnPlateau on the validation loss):
  // host-only settings, unused by the device.
  float factor = 0.1f;
  int patience = 10;
  float min_lr = 0.0f;
  float min_delta = 1e-4f;
  int cooldown = 0;
};

// The learning rate of the update that follows `step` updates.
GRAFT_HD inline float scheduled_lr(const LrSchedule& s, float lr, int64_t step) {
  const float gs = static_cast<float>(step);
  switch (s.kind) {
    case LrScheduleKind::kConstant:
    case LrScheduleKind::kPlateau:
      return lr;
    case LrScheduleKind::kExponential: {
      float p = gs / s.decay_steps;
      if (s.staircase) p = floorf(p);
      return lr * powf(s.decay_rate, p);
    }
    case LrScheduleKind::kInverseTime: {
      float p = gs / s.decay_steps;
      if (s.staircase) p = floorf(p);
      return lr / (1.0f + s.decay_rate * p);
    }
    case LrScheduleKind::kNaturalExp: {
      float p = gs / s.decay_steps;
      if (s.staircase) p = floorf(p);
      return lr * expf(-s.decay_rate * p);
    }
    case LrScheduleKind::kPolynomial: {
      float steps = s.decay_steps;
      float g = gs;
      if (s.cycle) {
        const float multiplier = g == 0.0f ? 1.0f : ceilf(g / steps);
        steps = steps * multiplier;
      } else {
        g = g < steps ? g : steps;
      }
      const float p = g / steps;
      return (lr - s.end_lr) * powf(1.0f - p, s.power) + s.end_lr;
    }
    case LrScheduleKind::kCosine: {
      const float g = gs < s.decay_steps ? gs : s.decay_steps;
      const float completed = g / s.decay_steps;
      const float pi = 3.14159265358979323846f;
      const float cosine = 0.5f * (1.0f + cosf(pi * completed));
      const float decayed = (1.0f - s.alpha) * cosine + s.alpha;
      return lr * decayed;
    }
    case LrScheduleKind::kPiecewise: {
      for (int i = 0; i < s.num_boundaries; ++i) {
        if (step <= s.boundaries[i]) return s.values[i];
      }
      return s.values[s.num_boundaries];
    }
  }
  return lr;
}

}  // namespace graft::math
