#pragma once
// The backend's small device-resident state: running totals, optimizer
// scalars, the per-step hyper-parameters (the learning rate), the global-norm scale, and the arrival counters of the
// "last block finishes the reduction" pattern. One struct, one allocation;
// kernels get a pointer to it, so graph replays read and advance it without
// the host. Plain data, shared by .cu and .cc files.
#include <cstdint>

namespace graft::cuda {

struct Totals {
  double loss_sum;      // sum of per-sample losses
  long long correct;    // top-1 hits (in_top_k, k = 1)
};

struct DeviceState {
  Totals train;         // since the last take_train_totals
  Totals eval;          // one evaluate() call
  long long step;       // global_step: updates applied
  float beta1_power;    // adam: b1^(step+1), used by the next update
  float beta2_power;
  float norm_scale;     // clip-by-global-norm factor of the current step
  double grad_sumsq;    // sum of squares of the trainable gradients (global norm squared)
  unsigned xent_arrivals;    // softmax_xent's last-block counter (reset to 0 by the last block)
  unsigned norm_arrivals;    // global-norm reduction's counter
  unsigned update_arrivals;  // optimizer update's counter (the last block advances the scalars)
  // Read by every update kernel and the fused step at the start of each
  // step, so a schedule changes it (Backend::set_learning_rate: one async
  // copy) without re-capturing the step's graph. Adam's lr_t is derived from
  // it and the beta powers on the device.
  float learning_rate;
};

}  // namespace graft::cuda
