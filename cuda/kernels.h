#pragma once
// All host-callable kernel launchers of the CUDA backend, for tests and
// benchmarks that drive kernels on raw device pointers. Each family's header
// names its CPU twin in host/cpu/reference_kernels.h.
#include "cuda/bias_activation.h"   // bias_activation_forward, activation_backward_bias_grad
#include "cuda/gather.h"            // gather_batch, gather_rows
#include "cuda/optimizer_update.h"  // optimizer_update (clip by value + global-norm scale fused)
#include "cuda/reductions.h"        // global_norm_scale
#include "cuda/shuffle.h"           // shuffle_order, identity_order
#include "cuda/softmax_xent.h"      // softmax_xent
