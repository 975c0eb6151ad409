#pragma once
// Regularization on the device (host/model/regularization.h): the L1/L2
// penalty of the weights added to the step's loss in device state (no host
// sync), its gradient added to the trained parameters' gradients before the
// update (so clipping by value or global norm sees it), and max-norm
// (tf.clip_by_norm of a kernel along axis 1 or 0) after the update. The
// scalar rules are host/math/regularization_math.h; CPU twins:
// host/cpu/regularization.h (penalty_of, add_penalty_gradient,
// clip_rows_by_norm, clip_columns_by_norm).
#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cuda/device_buffer.h"
#include "host/model/parameter_layout.h"
#include "host/model/regularization.h"

namespace graft {
struct DenseLayerShape;
}

namespace graft::cuda {

// Up to kPenaltyChunkElems elements of one tensor with its scales.
struct PenaltyChunk {
  int64_t offset;
  int64_t count;
  float l1;
  float l2;
};

// *loss_sum += weight * (sum over chunks of l1 * sum|w| + l2 * sum w^2 / 2):
// one block per chunk (double), the last block adds the partials in chunk
// order. partials: [num_chunks]; *arrivals starts at 0 and is left at 0.
void regularization_penalty(const float* w, const PenaltyChunk* chunks, int num_chunks, double weight,
                            double* partials, unsigned* arrivals, double* loss_sum, cudaStream_t stream);
// g += l1 * sign(w) + l2 * w on every chunk.
void regularization_gradient(float* g, const float* w, const PenaltyChunk* chunks, int num_chunks,
                             cudaStream_t stream);
// tf.clip_by_norm(w, clip_norm, axes=axis) of a row-major [rows, cols] kernel.
void clip_kernel_by_norm(float* w, int64_t rows, int64_t cols, float clip_norm, int axis, cudaStream_t stream);

// The tables of one step plan (first layer, trainable set): built before
// any capture, read by the enqueue calls.
struct RegularizationTable {
  struct Clip {
    int64_t offset, rows, cols;
    float clip_norm;
    int axis;
  };
  DeviceBuffer<PenaltyChunk> gradient_chunks;  // trained, penalized parameters
  int gradient_count = 0;
  std::vector<Clip> clips;                     // trained kernels with max-norm
};

// The CUDA backend's regularizers: configured once (set_regularization),
// then a table per step plan and three enqueue calls per step, each a no-op
// without regularizers.
class CudaRegularizer {
 public:
  // per_param empty: none. Uploads synchronously on `stream`.
  void configure(const ParameterLayout& layout, const std::vector<DenseLayerShape>& layers,
                 const std::vector<ParamRegularizer>& per_param, cudaStream_t stream);
  const std::vector<ParamRegularizer>& per_param() const { return params_; }
  // trainable: by parameter index; parameters of nodes below first_layer are not trained.
  RegularizationTable table(const ParameterLayout& layout, const std::vector<bool>& trainable, int first_layer,
                            cudaStream_t stream) const;
  // The batch's loss gets n times the penalty of the weights (before the update).
  void enqueue_penalty(const float* params, int64_t n, double* loss_sum, cudaStream_t stream) const;
  void enqueue_gradient(const RegularizationTable& t, float* grads, const float* params, cudaStream_t stream) const;
  void enqueue_max_norm(const RegularizationTable& t, float* params, cudaStream_t stream) const;

 private:
  std::vector<ParamRegularizer> params_;
  std::vector<std::pair<int64_t, int64_t>> kernel_shapes_;  // per parameter: [rows, cols] of a kernel
  DeviceBuffer<PenaltyChunk> penalty_chunks_;  // every penalized parameter, frozen ones too
  int penalty_count_ = 0;
  DeviceBuffer<double> partials_;
  DeviceBuffer<unsigned> arrivals_;
};

}  // namespace graft::cuda
