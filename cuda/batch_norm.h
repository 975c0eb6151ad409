#pragma once
// Batch normalization on dense activations ([rows, cols] row-major, one
// feature per column), two implementations with one semantics (TF's; the
// CPU twins are host/cpu/batch_norm_kernels.h, whose comments define it):
//
//  - graft's own fused kernels (batch_norm_* below): one kernel for the
//    column statistics (mean, then the biased variance, two passes in
//    double inside the kernel), one elementwise kernel for normalise +
//    scale/shift + activation; backward: one kernel for the reductions
//    (sum g, sum g * xhat) and one elementwise kernel for dx.
//  - cuDNN (CudnnBatchNorm): cudnnBatchNormalizationForwardTraining /
//    ForwardInference / Backward in CUDNN_BATCHNORM_PER_ACTIVATION mode on an
//    N x C x 1 x 1 tensor, the activation (which cuDNN cannot fuse here) in a
//    kernel of ours. cuDNN's running averages are not used (see the class).
//
// Which one the backend uses is an option (BatchNormImpl); docs/
// cuda-backend.md says what was measured. All pointers are device pointers;
// every launch is asynchronous on `stream` and graph-capturable (no
// allocation, no host synchronisation).
#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>

#include "host/model/activation.h"

namespace graft::cuda {

enum class BatchNormImpl { kFused, kCudnn };

// ---------------------------------------------------------------- graft's kernels

// Training mode: batch_mean, batch_var (biased), rstd = 1 / sqrtf(var + eps)
// [cols]; y = act(BN(x)) [rows, cols] (may alias x). gamma/beta nullable.
void batch_norm_forward_train(const float* x, int64_t rows, int64_t cols, const float* gamma,
                              const float* beta, float epsilon, Activation act, float* y,
                              float* batch_mean, float* batch_var, float* rstd, cudaStream_t stream);

// Evaluation mode, with the moving statistics.
void batch_norm_forward_infer(const float* x, int64_t rows, int64_t cols, const float* gamma,
                              const float* beta, const float* moving_mean, const float* moving_var,
                              float epsilon, Activation act, float* y, cudaStream_t stream);

// TF's moving-average rule (the CPU twin's comment); both implementations
// use it. Throws graft::Error for bessel_correction with rows < 2.
void batch_norm_update_moving(float* moving_mean, float* moving_var, const float* batch_mean,
                              const float* batch_var, int64_t rows, int64_t cols, double momentum,
                              bool bessel_correction, cudaStream_t stream);

// Backward (the CPU twin's comment). dx, dgamma, dbeta nullable; dx may alias
// dy. `sums` is scratch of batch_norm_backward_scratch_size(cols) floats.
void batch_norm_backward(const float* dy, const float* y, Activation act, const float* x,
                         const float* batch_mean, const float* rstd, const float* gamma,
                         int64_t rows, int64_t cols, float* dx, float* dgamma, float* dbeta,
                         float* sums, cudaStream_t stream);
inline int64_t batch_norm_backward_scratch_size(int64_t cols) { return 2 * cols; }

// Backward through y = act(BN(x)) in inference form, with the moving
// statistics (a frozen batch norm with trained nodes below it, or gamma and
// beta trained on fixed statistics; the CPU twin is the inference branch of
// host/cpu/node_ops.cc batch_norm_backward): g = act'(dy, y), rstd =
// 1 / sqrtf(moving_var + eps), dbeta = sum g, dgamma = sum g * (x -
// moving_mean) * rstd (in double), dx = g * (rstd * gamma). Both
// implementations use it (cuDNN's backward is for batch statistics only).
// dx, dgamma, dbeta nullable; dx may alias dy; gamma nullable (1).
void batch_norm_backward_infer(const float* dy, const float* y, Activation act, const float* x,
                               const float* moving_mean, const float* moving_var, const float* gamma,
                               float epsilon, int64_t rows, int64_t cols, float* dx, float* dgamma,
                               float* dbeta, cudaStream_t stream);

// ---------------------------------------------------------------- cuDNN

// Whether this build links cuDNN (GRAFT_HAVE_CUDNN); without it
// CudnnBatchNorm's constructor throws graft::Error saying so.
bool cudnn_compiled_in();
// cuDNN's smallest batch-norm epsilon (CUDNN_BN_MIN_EPSILON; 1e-5 in a
// build without cuDNN, where nothing uses it).
double cudnn_min_epsilon();

// The cuDNN path, same arguments and outputs as the functions above.
// Matching TF: cuDNN's forward training would update running averages with
// the Bessel-corrected variance and factor = 1 - momentum; instead it is
// called with exponentialAverageFactor = 1 into scratch, which makes the
// "running" outputs this batch's mean and unbiased variance; the biased
// variance is that times (rows - 1) / rows, and the moving averages are then
// updated by batch_norm_update_moving, exactly as on the fused path.
// cuDNN's saved inverse variance is 1 / sqrt(var + eps), i.e. rstd.
// Holds a cuDNN handle, descriptors and scratch for batches of up to
// max_rows x max_cols (allocated in the constructor, none later).
class CudnnBatchNorm {
 public:
  CudnnBatchNorm(int64_t max_rows, int64_t max_cols);
  ~CudnnBatchNorm();
  CudnnBatchNorm(const CudnnBatchNorm&) = delete;
  CudnnBatchNorm& operator=(const CudnnBatchNorm&) = delete;

  // epsilon >= CUDNN_BN_MIN_EPSILON (1e-5), else graft::Error naming it.
  void forward_train(const float* x, int64_t rows, int64_t cols, const float* gamma, const float* beta,
                     float epsilon, Activation act, float* y, float* batch_mean, float* batch_var,
                     float* rstd, cudaStream_t stream);
  void forward_infer(const float* x, int64_t rows, int64_t cols, const float* gamma, const float* beta,
                     const float* moving_mean, const float* moving_var, float epsilon, Activation act,
                     float* y, cudaStream_t stream);
  // epsilon: the forward's (cuDNN's backward takes it with the saved
  // statistics; it is not used to recompute them).
  void backward(const float* dy, const float* y, Activation act, const float* x, const float* batch_mean,
                const float* rstd, const float* gamma, int64_t rows, int64_t cols, float epsilon, float* dx,
                float* dgamma, float* dbeta, cudaStream_t stream);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace graft::cuda
