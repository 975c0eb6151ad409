#pragma once
// Device versions of TensorFlow's activations (host/model/activation.h) and their
// derivatives as functions of the activation's *output* (TF's
// ReluGrad/EluGrad/SeluGrad/TanhGrad/SigmoidGrad). Written with the same
// operation order as the definitions, and compiled with -fmad=false (see
// cuda/CMakeLists.txt) so the GPU rounds like the CPU reference; expf and
// tanhf differ from glibc by at most a couple of ulps.
#include <cuda_runtime.h>

#include "host/model/activation.h"

namespace graft::cuda {

template <ActivationKind K>
__device__ __forceinline__ float act_forward(float x, float alpha) {
  if constexpr (K == ActivationKind::kIdentity) {
    return x;
  } else if constexpr (K == ActivationKind::kRelu) {
    return x > 0.0f ? x : 0.0f;
  } else if constexpr (K == ActivationKind::kElu) {
    return x > 0.0f ? x : expf(x) - 1.0f;
  } else if constexpr (K == ActivationKind::kSelu) {
    return kSeluScale * (x > 0.0f ? x : kSeluAlpha * (expf(x) - 1.0f));
  } else if constexpr (K == ActivationKind::kLeakyRelu) {
    return x > 0.0f ? x : alpha * x;
  } else if constexpr (K == ActivationKind::kTanh) {
    return tanhf(x);
  } else {  // kSigmoid
    return 1.0f / (1.0f + expf(-x));
  }
}

// d(loss)/d(pre-activation) from the incoming gradient g and the output y.
template <ActivationKind K>
__device__ __forceinline__ float act_grad(float g, float y, float alpha) {
  if constexpr (K == ActivationKind::kIdentity) {
    return g;
  } else if constexpr (K == ActivationKind::kRelu) {
    return y > 0.0f ? g : 0.0f;
  } else if constexpr (K == ActivationKind::kElu) {
    return y < 0.0f ? g * (y + 1.0f) : g;
  } else if constexpr (K == ActivationKind::kSelu) {
    return y < 0.0f ? g * (y + kSeluScale * kSeluAlpha) : g * kSeluScale;
  } else if constexpr (K == ActivationKind::kLeakyRelu) {
    return y > 0.0f ? g : g * alpha;
  } else if constexpr (K == ActivationKind::kTanh) {
    return g * (1.0f - y * y);
  } else {  // kSigmoid
    return g * y * (1.0f - y);
  }
}

}  // namespace graft::cuda
