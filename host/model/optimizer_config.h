#pragma once
// Optimizer hyper-parameters, TF1 defaults, and the slot names TF1 gives each
// optimizer's per-variable state, so checkpoints move both ways.
//
// Update rules (g = gradient after clipping), exactly as TF1's Apply* kernels:
//   sgd:       w -= lr * g
//   momentum:  a = m * a + g;  w -= lr * a                  (slot VAR/Momentum)
//   nesterov:  a = m * a + g;  w -= lr * g + lr * m * a      (slot VAR/Momentum)
//   adagrad:   a += g * g;     w -= lr * g / sqrt(a)         (slot VAR/Adagrad, starts at 0.1)
//   rmsprop:   ms = rho * ms + (1 - rho) * g * g             (slot VAR/RMSProp, starts at 1.0)
//              mom = mu * mom + lr * g / sqrt(ms + eps)      (slot VAR/RMSProp_1, starts at 0)
//              w -= mom
//   adam:      t = step + 1; lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t)
//              m = b1 * m + (1 - b1) * g;  v = b2 * v + (1 - b2) * g * g
//              w -= lr_t * m / (sqrt(v) + eps)                (slots VAR/Adam, VAR/Adam_1;
//              scalars beta1_power = b1^t, beta2_power = b2^t, advanced after each step)
// Clipping happens before the update: by value, g = clamp(g, -T, T)
// (tf.clip_by_value), or by global norm over all trainable gradients,
// g *= N / max(N, global_norm) (tf.clip_by_global_norm).
// The learning rate of each step is schedule's function of the global step
// (host/math/lr_schedule.h, TF1's tf.train.*_decay); constant by default.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "host/math/lr_schedule.h"

namespace graft {

enum class OptimizerKind { kSgd, kMomentum, kNesterov, kAdagrad, kRmsProp, kAdam };

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::kSgd;
  float learning_rate = 0.01f;
  float momentum = 0.9f;             // momentum / nesterov; rmsprop uses rmsprop_momentum
  float adagrad_initial = 0.1f;      // tf.train.AdagradOptimizer initial_accumulator_value
  float rho = 0.9f;                  // rmsprop decay
  float rmsprop_momentum = 0.0f;
  float rmsprop_epsilon = 1e-10f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float adam_epsilon = 1e-8f;
  float clip_value = 0.0f;           // 0 = off
  float clip_norm = 0.0f;            // 0 = off
  math::LrSchedule schedule;         // constant unless set (host/model/lr_schedule_spec.h parses one)
};

// Step-dependent scalars that live beside the slots.
struct OptimizerScalars {
  int64_t step = 0;                  // global_step: number of updates applied
  float beta1_power = 0.9f;          // adam: b1^(step+1), the value used by the next update
  float beta2_power = 0.999f;
};

// "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam".
std::string optimizer_name(OptimizerKind kind);
std::optional<OptimizerKind> parse_optimizer(const std::string& text);
// TF1 slot suffixes, in slot order: {"Momentum"}, {"Adagrad"}, {"RMSProp", "RMSProp_1"},
// {"Adam", "Adam_1"}, {} for sgd. A slot variable is named VAR + "/" + suffix.
std::vector<std::string> optimizer_slot_suffixes(OptimizerKind kind);
// Throws graft::Error naming the field ("OptimizerConfig::learning_rate is
// nan, not a finite number"): a non-finite hyper-parameter would show up
// only as a divergence many steps later, blamed on the learning rate.
void check_finite_hyperparameters(const OptimizerConfig& config);
// Initial value of each slot (adagrad 0.1 by default, rmsprop rms 1.0, others 0).
std::vector<float> optimizer_slot_initial_values(const OptimizerConfig& config);

}  // namespace graft
