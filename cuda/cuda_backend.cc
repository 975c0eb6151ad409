// The CUDA backend's memory and streams: construction, build() (every
// buffer from the parameter layout), parameter/slot/scalar I/O, data sets,
// evaluate, and the factories. The class: cuda/cuda_backend_internal.h.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "checkpoint/error.h"
#include "cuda/bias_activation.h"
#include "cuda/cuda_backend_internal.h"
#include "cuda/cuda_check.h"
#include "host/nvtx_range.h"

namespace graft {
namespace cuda {
namespace {

// cuBLAS workspace per handle (NVIDIA's recommendation for Hopper); set
// explicitly so graph capture never makes cuBLAS allocate.
constexpr std::size_t kCublasWorkspaceBytes = 32u << 20;

}  // namespace

CudaBackend::CudaBackend(const CudaBackendOptions& options, int device)
    : options_(options), device_(device) {
  const int count = cuda_device_count();
  if (count <= 0) {
    throw Error("--device cuda: no usable CUDA device (" + cuda_device_summary() + ")");
  }
  if (device < 0 || device >= count) {
    throw Error("--device cuda: device " + std::to_string(device) + " does not exist (" +
                std::to_string(count) + " found)");
  }
  if (!fused::parse_schedule(options_.fused_schedule, &fused_schedule_)) {
    throw Error("GRAFT_CUDA_FUSED_SCHEDULE=" + options_.fused_schedule +
                ": expected auto, row-local or per-layer");
  }
  if (!parse_batch_norm_path(options_.batch_norm, &bn_requested_)) {
    throw Error("GRAFT_CUDA_BATCH_NORM=" + options_.batch_norm + ": expected auto, cudnn or fused");
  }
  GRAFT_CUDA_CHECK(cudaSetDevice(device_));
  cudaDeviceProp prop{};
  GRAFT_CUDA_CHECK(cudaGetDeviceProperties(&prop, device_));
  description_ = std::string("cuda (") + prop.name + ", sm_" + std::to_string(prop.major) +
                 std::to_string(prop.minor) + ", " +
                 (options_.allow_tf32 ? "tf32 GEMMs" : "fp32 GEMMs") + ", CUDA graphs " +
                 (options_.use_graphs ? "on" : "off") +
                 (options_.fused_step ? ", fused step (" + options_.fused_schedule + ")" : "") +
                 ")";

  GRAFT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  GRAFT_CUDA_CHECK(cudaStreamCreateWithFlags(&side_, cudaStreamNonBlocking));
  GRAFT_CUDA_CHECK(cudaEventCreateWithFlags(&fork_, cudaEventDisableTiming));
  GRAFT_CUDA_CHECK(cudaEventCreateWithFlags(&join_, cudaEventDisableTiming));
  blas_ws_ = DeviceBuffer<unsigned char>(kCublasWorkspaceBytes, "cuBLAS workspace");
  blas_side_ws_ = DeviceBuffer<unsigned char>(kCublasWorkspaceBytes, "cuBLAS workspace (side)");
  const cublasMath_t math = options_.allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH;
  for (auto [handle, stream, ws] : {std::tuple{&blas_, stream_, &blas_ws_},
                                    std::tuple{&blas_side_, side_, &blas_side_ws_}}) {
    GRAFT_CUBLAS_CHECK(cublasCreate(handle));
    GRAFT_CUBLAS_CHECK(cublasSetStream(*handle, stream));
    GRAFT_CUBLAS_CHECK(cublasSetWorkspace(*handle, ws->get(), ws->bytes()));
    GRAFT_CUBLAS_CHECK(cublasSetMathMode(*handle, math));
    GRAFT_CUBLAS_CHECK(cublasSetPointerMode(*handle, CUBLAS_POINTER_MODE_HOST));
  }
  state_ = DeviceBuffer<DeviceState>(1, "backend state");
  GRAFT_CUDA_CHECK(cudaMemsetAsync(state_.get(), 0, sizeof(DeviceState), stream_));
  host_state_ = static_cast<DeviceState*>(host_alloc_pinned(sizeof(DeviceState), "backend state"));
  sync();
}

CudaBackend::~CudaBackend() {
  if (stream_ != nullptr && cudaStreamSynchronize(stream_) != cudaSuccess) (void)cudaGetLastError();
  if (side_ != nullptr && cudaStreamSynchronize(side_) != cudaSuccess) (void)cudaGetLastError();
  cudnn_bn_.reset();  // its cuDNN handle is set to stream_, destroyed below
  for (auto& [key, g] : graphs_) {
    if (g.exec) (void)cudaGraphExecDestroy(g.exec);
    if (g.graph) (void)cudaGraphDestroy(g.graph);
  }
  if (blas_) (void)cublasDestroy(blas_);
  if (blas_side_) (void)cublasDestroy(blas_side_);
  if (fork_) (void)cudaEventDestroy(fork_);
  if (join_) (void)cudaEventDestroy(join_);
  if (side_) (void)cudaStreamDestroy(side_);
  if (stream_) (void)cudaStreamDestroy(stream_);
  host_free_pinned(host_state_);
  (void)cudaGetLastError();
}

void CudaBackend::sync() { GRAFT_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

// Host buffers are pageable: copy on the stream (ordered after every step
// already enqueued) and wait, so the caller may reuse its buffer at once.
void CudaBackend::copy_to_device(void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  GRAFT_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
  sync();
}

void CudaBackend::copy_to_host(void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  GRAFT_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
  sync();
}

void CudaBackend::require_built(const char* what) const {
  if (layers_.empty()) throw Error(std::string("cuda backend: ") + what + " before build()");
}

void CudaBackend::check_index(int index, const char* what) const {
  require_built(what);
  if (index < 0 || index >= num_params()) {
    throw Error(std::string("cuda backend: ") + what + ": parameter index " +
                std::to_string(index) + " out of range [0, " + std::to_string(num_params()) + ")");
  }
}

// ---------------------------------------------------------------------------
void CudaBackend::build(const std::vector<DenseLayerShape>& layers,
                        const OptimizerConfig& optimizer, int64_t max_batch) {
  if (layers.empty()) throw Error("cuda backend: build() needs at least one layer");
  if (max_batch <= 0) throw Error("cuda backend: max_batch must be positive");
  for (std::size_t l = 0; l < layers.size(); ++l) {
    if (layers[l].fan_in <= 0 || layers[l].fan_out <= 0) {
      throw Error("cuda backend: layer " + std::to_string(l) + " has an empty shape");
    }
    if (l > 0 && layers[l].fan_in != layers[l - 1].fan_out) {
      throw Error("cuda backend: layer " + std::to_string(l) + " takes " +
                  std::to_string(layers[l].fan_in) + " inputs but layer " +
                  std::to_string(l - 1) + " gives " + std::to_string(layers[l - 1].fan_out));
    }
  }
  // Batch norm and dropout run on the graph path (cuda/node_walk.h); what it
  // cannot run is refused here, in one line naming the node.
  bn_path_ = resolve_batch_norm_path(layers, bn_requested_, cudnn_compiled_in(), cudnn_min_epsilon());
  const std::string unsupported = node_support_error(layers, bn_path_, cudnn_compiled_in(), cudnn_min_epsilon());
  if (!unsupported.empty()) throw Error(unsupported);
  GRAFT_CUDA_CHECK(cudaSetDevice(device_));
  sync();
  GRAFT_CUDA_CHECK(cudaStreamSynchronize(side_));
  clear_graphs();
  chunk_tables_.clear();
  fused_programs_.clear();

  layers_ = layers;
  optimizer_ = optimizer;
  max_batch_ = max_batch;
  num_slots_ = static_cast<int>(optimizer_slot_suffixes(optimizer.kind).size());
  const std::vector<float> slot_init = optimizer_slot_initial_values(optimizer);

  layout_ = parameter_layout(layers_);
  const int np = num_params();
  int64_t max_in = 0, max_out = 0;
  for (const auto& s : layers_) {
    max_in = std::max(max_in, s.fan_in);
    max_out = std::max(max_out, s.fan_out);
  }
  trainable_.assign(np, true);
  ++trainable_version_;

  const auto f = static_cast<std::size_t>(layout_.total);
  params_ = DeviceBuffer<float>(f, "parameters");
  grads_ = DeviceBuffer<float>(f, "gradients");
  GRAFT_CUDA_CHECK(cudaMemsetAsync(params_.get(), 0, params_.bytes(), stream_));
  GRAFT_CUDA_CHECK(cudaMemsetAsync(grads_.get(), 0, grads_.bytes(), stream_));
  slot0_ = DeviceBuffer<float>();
  slot1_ = DeviceBuffer<float>();
  if (num_slots_ >= 1) slot0_ = DeviceBuffer<float>(f, "optimizer slot 0");
  if (num_slots_ >= 2) slot1_ = DeviceBuffer<float>(f, "optimizer slot 1");
  for (int k = 0; k < num_slots_; ++k) {
    const std::vector<float> init(f, slot_init.at(k));
    copy_to_device(k == 0 ? slot0_.get() : slot1_.get(), init.data(), f * sizeof(float));
  }

  act_.clear();
  dgrad_.clear();
  for (const auto& s : layers_) {
    const auto size = static_cast<std::size_t>(max_batch * s.fan_out);
    act_.emplace_back(size, "layer outputs");
    dgrad_.emplace_back(size, "layer output gradients");
  }
  build_nodes();  // batch norm's statistics and scratch (none for a dense stack), infer_walk_
  x_batch_ = DeviceBuffer<float>(static_cast<std::size_t>(max_batch * max_in), "batch inputs");
  y_batch_ = DeviceBuffer<int32_t>(static_cast<std::size_t>(max_batch), "batch labels");

  bias_partials_ = DeviceBuffer<float>(static_cast<std::size_t>(bias_grad_partials_size(max_out)),
                                       "bias-gradient partial sums");
  bias_arrivals_ = DeviceBuffer<unsigned>(
      static_cast<std::size_t>(bias_grad_arrivals_size(max_out)), "bias-gradient counters");
  GRAFT_CUDA_CHECK(cudaMemsetAsync(bias_arrivals_.get(), 0, bias_arrivals_.bytes(), stream_));
  bias_ws_ = BiasGradWorkspace{bias_partials_.get(), bias_arrivals_.get(), max_out};

  const auto xb = static_cast<std::size_t>(xent_max_blocks(max_batch));
  xent_loss_partials_ = DeviceBuffer<double>(xb, "loss partial sums");
  xent_correct_partials_ = DeviceBuffer<long long>(xb, "accuracy partial sums");
  xent_ws_ = XentWorkspace{xent_loss_partials_.get(), xent_correct_partials_.get(), max_batch};
  if (options_.fused_step) {
    const auto tiles = static_cast<std::size_t>(fused::tile_buffer_size(max_batch));
    fused_tile_loss_ = DeviceBuffer<double>(tiles, "fused step loss sums");
    fused_tile_hits_ = DeviceBuffer<long long>(tiles, "fused step hit counts");
  }

  std::vector<std::pair<int64_t, int64_t>> all;
  for (const ParamSlot& p : layout_.params) all.emplace_back(p.offset, p.count);
  norm_partials_ = DeviceBuffer<double>(make_update_chunks(all).size(), "gradient-norm partials");

  DeviceState init{};
  init.step = 0;
  init.beta1_power = optimizer.beta1;
  init.beta2_power = optimizer.beta2;
  init.norm_scale = 1.0f;
  init.learning_rate = optimizer.learning_rate;
  copy_to_device(state_.get(), &init, sizeof init);
  regularizer_.configure(layout_, layers_, {}, stream_);
  train_samples_ = 0;
}

void CudaBackend::set_regularization(const std::vector<ParamRegularizer>& per_param) {
  require_built("set_regularization");
  sync();  // steps in flight read the tables being replaced
  regularizer_.configure(layout_, layers_, per_param, stream_);
  ++trainable_version_;
  chunk_tables_.clear();
  fused_programs_.clear();
  clear_graphs();
}

void CudaBackend::write_param(int index, const float* src) {
  check_index(index, "write_param");
  copy_to_device(param_ptr(index), src, layout_[index].count * sizeof(float));
}

void CudaBackend::read_param(int index, float* dst) {
  check_index(index, "read_param");
  copy_to_host(dst, param_ptr(index), layout_[index].count * sizeof(float));
}

void CudaBackend::set_trainable(int index, bool trainable) {
  check_index(index, "set_trainable");
  if (trainable_[index] == trainable) return;
  // Steps in flight read the chunk tables and graphs being replaced.
  sync();
  trainable_[index] = trainable;
  ++trainable_version_;
  chunk_tables_.clear();
  fused_programs_.clear();
  clear_graphs();
}

bool CudaBackend::trainable(int index) const {
  check_index(index, "trainable");
  return trainable_[index];
}

void CudaBackend::write_slot(int index, int slot, const float* src) {
  check_index(index, "write_slot");
  if (slot < 0 || slot >= num_slots_) {
    throw Error("cuda backend: write_slot: " + optimizer_name(optimizer_.kind) + " has " +
                std::to_string(num_slots_) + " slot(s), not slot " + std::to_string(slot));
  }
  copy_to_device(slot_ptr(slot, index), src, layout_[index].count * sizeof(float));
}

void CudaBackend::read_slot(int index, int slot, float* dst) {
  check_index(index, "read_slot");
  if (slot < 0 || slot >= num_slots_) {
    throw Error("cuda backend: read_slot: " + optimizer_name(optimizer_.kind) + " has " +
                std::to_string(num_slots_) + " slot(s), not slot " + std::to_string(slot));
  }
  copy_to_host(dst, slot_ptr(slot, index), layout_[index].count * sizeof(float));
}

ParameterLayout CudaBackend::allocated_layout(ParamBuffer buffer) const {
  require_built("allocated_layout");
  const int slot = buffer == ParamBuffer::kSlot0 ? 0 : buffer == ParamBuffer::kSlot1 ? 1 : -1;
  if (slot >= num_slots_) {
    throw Error("cuda backend: allocated_layout: " + optimizer_name(optimizer_.kind) + " has no slot " +
                std::to_string(slot));
  }
  const DeviceBuffer<float>& base = buffer == ParamBuffer::kParams ? params_
                                    : buffer == ParamBuffer::kGrads ? grads_
                                    : slot == 0                     ? slot0_
                                                                    : slot1_;
  ParameterLayout out = layout_;
  out.total = static_cast<int64_t>(base.size());
  for (int i = 0; i < num_params(); ++i) {
    const float* p = buffer == ParamBuffer::kParams ? param_ptr(i)
                     : buffer == ParamBuffer::kGrads ? grad_ptr(i)
                                                     : slot_ptr(slot, i);
    out.params[static_cast<std::size_t>(i)].offset = p - base.get();
  }
  return out;
}

void CudaBackend::write_scalars(const OptimizerScalars& scalars) {
  require_built("write_scalars");
  copy_to_host(host_state_, state_.get(), sizeof(DeviceState));
  host_state_->step = scalars.step;
  host_state_->beta1_power = scalars.beta1_power;
  host_state_->beta2_power = scalars.beta2_power;
  copy_to_device(state_.get(), host_state_, sizeof(DeviceState));
}

// One async copy on the step stream, ordered after the steps already
// enqueued: the next step's update kernels (or the fused step) read it from
// the device state, so no graph is re-captured and the host does not wait.
// The source is pageable, so the runtime stages it before returning.
void CudaBackend::set_learning_rate(float learning_rate) {
  require_built("set_learning_rate");
  optimizer_.learning_rate = learning_rate;  // what a rebuilt fused program would bake in; unused by the kernels
  GRAFT_CUDA_CHECK(cudaMemcpyAsync(&state_.get()->learning_rate, &learning_rate, sizeof(float),
                                   cudaMemcpyHostToDevice, stream_));
}

OptimizerScalars CudaBackend::read_scalars() {
  require_built("read_scalars");
  copy_to_host(host_state_, state_.get(), sizeof(DeviceState));
  OptimizerScalars s;
  s.step = host_state_->step;
  s.beta1_power = host_state_->beta1_power;
  s.beta2_power = host_state_->beta2_power;
  return s;
}

// ---------------------------------------------------------------------------
std::unique_ptr<DeviceDataset> CudaBackend::upload(const float* features, const int32_t* labels,
                                                   int64_t rows, int64_t cols) {
  if (rows < 0 || cols <= 0) throw Error("cuda backend: upload: bad shape");
  if (rows >= (int64_t{1} << 31)) throw Error("cuda backend: upload: too many rows (2^31 max)");
  GRAFT_CUDA_CHECK(cudaSetDevice(device_));
  NvtxRange range("graft.upload");
  auto d = std::make_unique<CudaDataset>(rows, cols);
  if (rows > 0) {
    GRAFT_CUDA_CHECK(cudaMemcpyAsync(d->features.get(), features, d->features.bytes(),
                                     cudaMemcpyHostToDevice, stream_));
    GRAFT_CUDA_CHECK(cudaMemcpyAsync(d->labels.get(), labels, d->labels.bytes(),
                                     cudaMemcpyHostToDevice, stream_));
    identity_order(d->order.get(), rows, stream_);
    sync();
  }
  return d;
}

std::unique_ptr<DeviceDataset> CudaBackend::forward_prefix(const DeviceDataset& data, int k) {
  require_built("forward_prefix");
  const CudaDataset& src = as_cuda(data);
  if (k < 0 || k > static_cast<int>(layers_.size())) {
    throw Error("cuda backend: forward_prefix: k = " + std::to_string(k) + " outside [0, " +
                std::to_string(layers_.size()) + "]");
  }
  if (src.cols() != layers_[0].fan_in) {
    throw Error("cuda backend: forward_prefix: data has " + std::to_string(src.cols()) +
                " columns, layer 0 takes " + std::to_string(layers_[0].fan_in));
  }
  NvtxRange range("graft.forward_prefix");
  // The frozen-layer cache: nodes [0, k) in inference form, as on the CPU.
  const int64_t rows = src.rows();
  const int64_t out_cols = k == 0 ? src.cols() : layers_[k - 1].fan_out;
  auto out = std::make_unique<CudaDataset>(rows, out_cols);
  if (rows == 0) return out;
  GRAFT_CUDA_CHECK(cudaMemcpyAsync(out->labels.get(), src.labels.get(), src.labels.bytes(),
                                   cudaMemcpyDeviceToDevice, stream_));
  GRAFT_CUDA_CHECK(cudaMemcpyAsync(out->order.get(), src.order.get(), src.order.bytes(),
                                   cudaMemcpyDeviceToDevice, stream_));
  if (k == 0) {
    GRAFT_CUDA_CHECK(cudaMemcpyAsync(out->features.get(), src.features.get(),
                                     src.features.bytes(), cudaMemcpyDeviceToDevice, stream_));
  } else {
    for (int64_t b = 0; b < rows; b += max_batch_) {
      const int64_t nb = std::min(max_batch_, rows - b);
      enqueue_forward(src.features.get() + b * src.cols(), nb, 0, k - 1,
                      out->features.get() + b * out_cols, infer_walk_);
    }
  }
  sync();
  return out;
}

void CudaBackend::shuffle(DeviceDataset& data, uint64_t seed, uint64_t epoch) {
  auto& d = const_cast<CudaDataset&>(as_cuda(data));
  NvtxRange range("graft.shuffle");
  shuffle_order(d.order.get(), d.rows(), seed, epoch, d.shuffle_ws, stream_);
}

EpochTotals CudaBackend::take_train_totals() {
  require_built("take_train_totals");
  copy_to_host(host_state_, state_.get(), sizeof(DeviceState));
  EpochTotals t;
  t.loss_sum = host_state_->train.loss_sum;
  t.correct = host_state_->train.correct;
  t.samples = train_samples_;
  GRAFT_CUDA_CHECK(cudaMemsetAsync(&state_.get()->train, 0, sizeof(Totals), stream_));
  train_samples_ = 0;
  return t;
}

EpochTotals CudaBackend::evaluate(const DeviceDataset& data, int first_layer) {
  require_built("evaluate");
  const CudaDataset& d = as_cuda(data);
  const int nl = static_cast<int>(layers_.size());
  if (first_layer < 0 || first_layer >= nl) {
    throw Error("cuda backend: evaluate: first_layer " + std::to_string(first_layer) +
                " outside [0, " + std::to_string(nl) + ")");
  }
  if (d.cols() != layers_[first_layer].fan_in) {
    throw Error("cuda backend: evaluate: data has " + std::to_string(d.cols()) +
                " columns, layer " + std::to_string(first_layer) + " takes " +
                std::to_string(layers_[first_layer].fan_in));
  }
  NvtxRange range("graft.evaluate");
  // Every node in inference form (batch norm: moving statistics; dropout:
  // the identity), as the CPU backend's evaluate.
  GRAFT_CUDA_CHECK(cudaMemsetAsync(&state_.get()->eval, 0, sizeof(Totals), stream_));
  const int last = nl - 1;
  for (int64_t b = 0; b < d.rows(); b += max_batch_) {
    const int64_t nb = std::min(max_batch_, d.rows() - b);
    enqueue_forward(d.features.get() + b * d.cols(), nb, first_layer, last, nullptr, infer_walk_);
    softmax_xent(act_[last].get(), d.labels.get() + b, nullptr, nb, layers_[last].fan_out, 1.0f,
                 &state_.get()->eval, &state_.get()->xent_arrivals, xent_ws_, stream_);
  }
  copy_to_host(host_state_, state_.get(), sizeof(DeviceState));
  EpochTotals t;
  t.loss_sum = host_state_->eval.loss_sum;
  t.correct = host_state_->eval.correct;
  t.samples = d.rows();
  return t;
}

// Eval-mode logits of host rows: each batch copied into x_batch_, the
// inference walk (as evaluate), the last node's outputs copied back. The
// host buffers are pageable: both copies wait (copy_to_device/_host).
void CudaBackend::predict_logits(const float* features, int64_t rows, int64_t cols, float* logits) {
  require_built("predict_logits");
  if (rows < 0 || cols != layers_[0].fan_in) {
    throw Error("cuda backend: predict_logits: " + std::to_string(rows) + " rows of " + std::to_string(cols) +
                " columns, layer 0 takes " + std::to_string(layers_[0].fan_in));
  }
  NvtxRange range("graft.predict");
  const int last = static_cast<int>(layers_.size()) - 1;
  const int64_t outputs = layers_[last].fan_out;
  for (int64_t b = 0; b < rows; b += max_batch_) {
    const int64_t nb = std::min(max_batch_, rows - b);
    copy_to_device(x_batch_.get(), features + b * cols, static_cast<std::size_t>(nb * cols) * sizeof(float));
    enqueue_forward(x_batch_.get(), nb, 0, last, nullptr, infer_walk_);
    copy_to_host(logits + b * outputs, act_[last].get(), static_cast<std::size_t>(nb * outputs) * sizeof(float));
  }
}

}  // namespace cuda

std::unique_ptr<Backend> make_cuda_backend(const CudaBackendOptions& options, int device) {
  return std::make_unique<cuda::CudaBackend>(options, device);
}

std::unique_ptr<Backend> make_cuda_backend(int device) {
  return make_cuda_backend(CudaBackendOptions::from_env(), device);
}

CudaBackendStats cuda_backend_stats(const Backend& backend) {
  const auto* b = dynamic_cast<const cuda::CudaBackend*>(&backend);
  if (b == nullptr) throw Error("cuda_backend_stats: not a CUDA backend");
  return b->stats();
}

}  // namespace graft
