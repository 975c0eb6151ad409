// Batch norm's cuDNN path (cuda/batch_norm.h, CudnnBatchNorm): the legacy
// cudnnBatchNormalization* routines in per-activation mode on N x C x 1 x 1,
// the activation and the moving averages by graft's kernels. Built without
// cuDNN (no GRAFT_HAVE_CUDNN), the constructor refuses.
#include <string>

#include "checkpoint/error.h"
#include "cuda/batch_norm.h"

#ifdef GRAFT_HAVE_CUDNN
#include <cudnn.h>

#include <vector>

#include "cuda/batch_norm_detail.h"
#include "cuda/cuda_check.h"
#include "cuda/device_buffer.h"

#define GRAFT_CUDNN_CHECK(call)                                                                      \
  do {                                                                                               \
    const cudnnStatus_t graft_cudnn_status_ = (call);                                                \
    if (graft_cudnn_status_ != CUDNN_STATUS_SUCCESS) {                                               \
      throw ::graft::Error(std::string("cuDNN error: ") + #call + " failed at " + __FILE__ + ":" +  \
                           std::to_string(__LINE__) + ": " + cudnnGetErrorString(graft_cudnn_status_)); \
    }                                                                                                \
  } while (0)
#endif

namespace graft::cuda {

#ifdef GRAFT_HAVE_CUDNN

bool cudnn_compiled_in() { return true; }
double cudnn_min_epsilon() { return CUDNN_BN_MIN_EPSILON; }

struct CudnnBatchNorm::State {
  int64_t max_rows = 0, max_cols = 0;
  cudnnHandle_t handle = nullptr;
  cudnnTensorDescriptor_t data = nullptr;   // rows x cols x 1 x 1
  cudnnTensorDescriptor_t param = nullptr;  // 1 x cols x 1 x 1
  DeviceBuffer<float> ones, zeros;          // gamma / beta when absent
  DeviceBuffer<float> unbiased_var, running_mean;  // cuDNN's "running" outputs at factor 1
  DeviceBuffer<float> dgamma, dbeta;        // cuDNN's parameter gradients when not asked for
  DeviceBuffer<float> g, dx;                // act'(dy) and dx when not asked for / aliased

  void shape(int64_t rows, int64_t cols, cudaStream_t stream) {
    if (rows < 1 || cols < 1 || rows > max_rows || cols > max_cols) {
      throw Error("cuDNN batch norm: a " + std::to_string(rows) + " x " + std::to_string(cols) +
                  " batch outside the " + std::to_string(max_rows) + " x " + std::to_string(max_cols) +
                  " it was set up for");
    }
    GRAFT_CUDNN_CHECK(cudnnSetTensor4dDescriptor(data, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, static_cast<int>(rows),
                                                 static_cast<int>(cols), 1, 1));
    GRAFT_CUDNN_CHECK(cudnnSetTensor4dDescriptor(param, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1,
                                                 static_cast<int>(cols), 1, 1));
    GRAFT_CUDNN_CHECK(cudnnSetStream(handle, stream));
  }
};

namespace {
void check_epsilon(float epsilon) {
  if (!(static_cast<double>(epsilon) >= CUDNN_BN_MIN_EPSILON)) {
    throw Error("cuDNN batch norm: epsilon " + std::to_string(epsilon) + " is below cuDNN's minimum " +
                std::to_string(CUDNN_BN_MIN_EPSILON) + " (use the fused implementation)");
  }
}
constexpr cudnnBatchNormMode_t kMode = CUDNN_BATCHNORM_PER_ACTIVATION;
}  // namespace

CudnnBatchNorm::CudnnBatchNorm(int64_t max_rows, int64_t max_cols) : s_(std::make_unique<State>()) {
  if (max_rows < 1 || max_cols < 1) throw Error("cuDNN batch norm: an empty maximum shape");
  s_->max_rows = max_rows;
  s_->max_cols = max_cols;
  const size_t n = static_cast<size_t>(max_rows * max_cols), c = static_cast<size_t>(max_cols);
  s_->ones = DeviceBuffer<float>(c, "cuDNN batch norm: ones");
  s_->zeros = DeviceBuffer<float>(c, "cuDNN batch norm: zeros");
  s_->unbiased_var = DeviceBuffer<float>(c, "cuDNN batch norm: batch variance");
  s_->running_mean = DeviceBuffer<float>(c, "cuDNN batch norm: batch mean");
  s_->dgamma = DeviceBuffer<float>(c, "cuDNN batch norm: dgamma");
  s_->dbeta = DeviceBuffer<float>(c, "cuDNN batch norm: dbeta");
  s_->g = DeviceBuffer<float>(n, "cuDNN batch norm: activation gradient");
  s_->dx = DeviceBuffer<float>(n, "cuDNN batch norm: dx");
  const std::vector<float> ones(c, 1.0f);
  GRAFT_CUDA_CHECK(cudaMemcpy(s_->ones.get(), ones.data(), c * sizeof(float), cudaMemcpyHostToDevice));
  GRAFT_CUDA_CHECK(cudaMemset(s_->zeros.get(), 0, c * sizeof(float)));
  GRAFT_CUDNN_CHECK(cudnnCreate(&s_->handle));
  GRAFT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&s_->data));
  GRAFT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&s_->param));
}

CudnnBatchNorm::~CudnnBatchNorm() {
  if (s_->param) cudnnDestroyTensorDescriptor(s_->param);
  if (s_->data) cudnnDestroyTensorDescriptor(s_->data);
  if (s_->handle) cudnnDestroy(s_->handle);
}

void CudnnBatchNorm::forward_train(const float* x, int64_t rows, int64_t cols, const float* gamma,
                                   const float* beta, float epsilon, Activation act, float* y, float* batch_mean,
                                   float* batch_var, float* rstd, cudaStream_t stream) {
  check_epsilon(epsilon);
  s_->shape(rows, cols, stream);
  const float one = 1.0f, zero = 0.0f;
  // Factor 1: running = batch * 1 + running * 0, so the running buffers are
  // cleared first (0 * NaN left by an earlier batch would stay NaN).
  GRAFT_CUDA_CHECK(cudaMemsetAsync(s_->unbiased_var.get(), 0, cols * sizeof(float), stream));
  GRAFT_CUDA_CHECK(cudaMemsetAsync(s_->running_mean.get(), 0, cols * sizeof(float), stream));
  GRAFT_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
      s_->handle, kMode, &one, &zero, s_->data, x, s_->data, y, s_->param, gamma ? gamma : s_->ones.get(),
      beta ? beta : s_->zeros.get(), 1.0, s_->running_mean.get(), s_->unbiased_var.get(), epsilon, batch_mean,
      rstd));
  // The biased variance (TF's nn.moments) from cuDNN's unbiased one.
  if (rows > 1) {
    detail::scale(s_->unbiased_var.get(), static_cast<float>(rows - 1) / static_cast<float>(rows), batch_var, cols,
                  stream);
  } else {
    GRAFT_CUDA_CHECK(cudaMemsetAsync(batch_var, 0, cols * sizeof(float), stream));
  }
  detail::activation_in_place(y, rows * cols, act, stream);
}

void CudnnBatchNorm::forward_infer(const float* x, int64_t rows, int64_t cols, const float* gamma,
                                   const float* beta, const float* moving_mean, const float* moving_var,
                                   float epsilon, Activation act, float* y, cudaStream_t stream) {
  check_epsilon(epsilon);
  s_->shape(rows, cols, stream);
  const float one = 1.0f, zero = 0.0f;
  GRAFT_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(
      s_->handle, kMode, &one, &zero, s_->data, x, s_->data, y, s_->param, gamma ? gamma : s_->ones.get(),
      beta ? beta : s_->zeros.get(), moving_mean, moving_var, epsilon));
  detail::activation_in_place(y, rows * cols, act, stream);
}

void CudnnBatchNorm::backward(const float* dy, const float* y, Activation act, const float* x,
                              const float* batch_mean, const float* rstd, const float* gamma, int64_t rows,
                              int64_t cols, float epsilon, float* dx, float* dgamma, float* dbeta,
                              cudaStream_t stream) {
  check_epsilon(epsilon);
  s_->shape(rows, cols, stream);
  const float* g = dy;
  if (act.kind != ActivationKind::kIdentity || dx == dy) {
    detail::activation_grad(dy, y, s_->g.get(), rows * cols, act, stream);
    g = s_->g.get();
  }
  const float one = 1.0f, zero = 0.0f;
  GRAFT_CUDNN_CHECK(cudnnBatchNormalizationBackward(
      s_->handle, kMode, &one, &zero, &one, &zero, s_->data, x, s_->data, g, s_->data, dx ? dx : s_->dx.get(),
      s_->param, gamma ? gamma : s_->ones.get(), dgamma ? dgamma : s_->dgamma.get(),
      dbeta ? dbeta : s_->dbeta.get(), epsilon, batch_mean, rstd));
}

#else  // no cuDNN in this build

bool cudnn_compiled_in() { return false; }
double cudnn_min_epsilon() { return 1e-5; }

struct CudnnBatchNorm::State {};

CudnnBatchNorm::CudnnBatchNorm(int64_t, int64_t) {
  throw Error(
      "cuDNN batch norm: this build of graft has no cuDNN (install libcudnn and cudnn.h and reconfigure, or "
      "use the fused batch-norm kernels)");
}
CudnnBatchNorm::~CudnnBatchNorm() = default;
void CudnnBatchNorm::forward_train(const float*, int64_t, int64_t, const float*, const float*, float, Activation,
                                   float*, float*, float*, float*, cudaStream_t) {}
void CudnnBatchNorm::forward_infer(const float*, int64_t, int64_t, const float*, const float*, const float*,
                                   const float*, float, Activation, float*, cudaStream_t) {}
void CudnnBatchNorm::backward(const float*, const float*, Activation, const float*, const float*, const float*,
                              const float*, int64_t, int64_t, float, float*, float*, float*, cudaStream_t) {}

#endif

}  // namespace graft::cuda
