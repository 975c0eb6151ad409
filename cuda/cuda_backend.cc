// The CUDA backend: parameters, gradients, slots and data sets in device
// memory; cuBLAS GEMMs plus the fused kernels of cuda/*.cu; each training
// step captured once as a CUDA graph per (data set, batch size, first layer,
// trainable set) and replayed. Design notes: docs/cuda-backend.md.
//
// Streams: everything runs on `stream_`, except the weight-gradient GEMMs,
// which fork onto `side_` (their own cuBLAS handle and workspace) so they
// overlap the input-gradient chain; the side stream joins back before the
// update. Nothing in train_step waits for the device; the host reads device
// memory only in read_param/read_slot/read_scalars, take_train_totals and
// evaluate.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "checkpoint/error.h"
#include "cuda/bias_activation.h"
#include "cuda/cuda_backend.h"
#include "host/step_plan.h"
#include "cuda/cuda_backend_options.h"
#include "cuda/cuda_check.h"
#include "cuda/device_buffer.h"
#include "cuda/device_state.h"
#include "cuda/fused/plan.h"
#include "cuda/fused_step.h"
#include "cuda/gather.h"
#include "cuda/gemm.h"
#include "cuda/optimizer_update.h"
#include "cuda/reductions.h"
#include "cuda/shuffle.h"
#include "cuda/softmax_xent.h"
#include "host/nvtx_range.h"

namespace graft {
namespace cuda {
namespace {

// Tensors in the flat buffers start on 256-byte boundaries (cuBLAS and the
// 16-byte vector paths like aligned operands).
constexpr int64_t kAlignElems = 64;
// cuBLAS workspace per handle (NVIDIA's recommendation for Hopper); set
// explicitly so graph capture never makes cuBLAS allocate.
constexpr std::size_t kCublasWorkspaceBytes = 32u << 20;
// Captured step graphs kept (least recently used evicted).
constexpr std::size_t kMaxGraphs = 32;

int64_t align_up(int64_t v) { return (v + kAlignElems - 1) / kAlignElems * kAlignElems; }

bool env_flag(const char* name, bool fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  const std::string s(v);
  if (s == "0" || s == "false" || s == "off" || s == "no") return false;
  if (s == "1" || s == "true" || s == "on" || s == "yes") return true;
  return fallback;
}

// ---------------------------------------------------------------------------
class CudaDataset final : public DeviceDataset {
 public:
  CudaDataset(int64_t rows, int64_t cols)
      : id(next_id()),
        rows_(rows),
        cols_(cols),
        features(static_cast<std::size_t>(rows * cols), "data set features"),
        labels(static_cast<std::size_t>(rows), "data set labels"),
        order(static_cast<std::size_t>(rows), "data set row order") {}

  int64_t rows() const override { return rows_; }
  int64_t cols() const override { return cols_; }
  int64_t bytes() const override {
    return static_cast<int64_t>(features.bytes() + labels.bytes() + order.bytes() +
                                shuffle_ws.keys_in.bytes() + shuffle_ws.keys_out.bytes() +
                                shuffle_ws.index_in.bytes() + shuffle_ws.temp.bytes());
  }

  const uint64_t id;  // keys the graph cache (never reused, unlike addresses)

 private:
  static uint64_t next_id() {
    static std::atomic<uint64_t> counter{1};
    return counter++;
  }
  int64_t rows_;
  int64_t cols_;

 public:
  DeviceBuffer<float> features;   // [rows, cols]
  DeviceBuffer<int32_t> labels;   // [rows]
  DeviceBuffer<uint32_t> order;   // [rows], the epoch's permutation
  ShuffleWorkspace shuffle_ws;    // allocated on the first shuffle
};

const CudaDataset& as_cuda(const DeviceDataset& d) {
  const auto* c = dynamic_cast<const CudaDataset*>(&d);
  if (c == nullptr) throw Error("cuda backend: the data set was not uploaded by a CUDA backend");
  return *c;
}

// ---------------------------------------------------------------------------
class CudaBackend final : public Backend {
 public:
  CudaBackend(const CudaBackendOptions& options, int device);
  ~CudaBackend() override;

  std::string description() const override { return description_; }
  BackendMemory memory() const override {
    BackendMemory m;
    m.kind = "GPU memory";
    std::size_t free_bytes = 0, total_bytes = 0;
    if (cudaSetDevice(device_) == cudaSuccess && cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
      m.total_bytes = static_cast<int64_t>(total_bytes);
      m.available_bytes = static_cast<int64_t>(free_bytes);
    } else {
      cudaGetLastError();  // clear it: unknown sizes fall back to the defaults
    }
    return m;
  }
  void build(const std::vector<DenseLayerShape>& layers, const OptimizerConfig& optimizer,
             int64_t max_batch) override;
  int num_params() const override { return static_cast<int>(2 * layers_.size()); }
  void write_param(int index, const float* src) override;
  void read_param(int index, float* dst) override;
  void set_trainable(int index, bool trainable) override;
  bool trainable(int index) const override;
  void write_slot(int index, int slot, const float* src) override;
  void read_slot(int index, int slot, float* dst) override;
  void write_scalars(const OptimizerScalars& scalars) override;
  OptimizerScalars read_scalars() override;
  std::unique_ptr<DeviceDataset> upload(const float* features, const int32_t* labels, int64_t rows,
                                        int64_t cols) override;
  std::unique_ptr<DeviceDataset> forward_prefix(const DeviceDataset& data, int k) override;
  void shuffle(DeviceDataset& data, uint64_t seed, uint64_t epoch) override;
  void train_step(const DeviceDataset& data, int64_t begin, int64_t n, int first_layer) override;
  EpochTotals take_train_totals() override;
  EpochTotals evaluate(const DeviceDataset& data, int first_layer) override;

  CudaBackendStats stats() const { return stats_; }

 private:
  struct StepKey {
    uint64_t dataset;
    int64_t n;
    int first_layer;
    uint64_t version;
    bool operator<(const StepKey& o) const {
      return std::tie(dataset, n, first_layer, version) <
             std::tie(o.dataset, o.n, o.first_layer, o.version);
    }
  };
  struct StepGraph {
    cudaGraph_t graph = nullptr;       // kept: gather_node belongs to it
    cudaGraphExec_t exec = nullptr;
    cudaGraphNode_t gather_node = nullptr;
    cudaKernelNodeParams gather_params{};  // the node's function and launch shape
    uint64_t last_use = 0;
  };
  struct ChunkTable {
    StepPlan plan;  // the step plan this table serves (host/step_plan.h)
    DeviceBuffer<UpdateChunk> chunks;
    int count = 0;
  };

  void require_built(const char* what) const;
  void check_index(int index, const char* what) const;
  float* param_ptr(int index) const { return params_.get() + offset_[index]; }
  float* grad_ptr(int index) const { return grads_.get() + offset_[index]; }
  void copy_to_device(void* dst, const void* src, std::size_t bytes);
  void copy_to_host(void* dst, const void* src, std::size_t bytes);
  void sync();
  void clear_graphs();
  const ChunkTable& chunk_table(int first_layer);

  // The step's pieces, enqueued on stream_ (and side_).
  void enqueue_forward(const float* x, int64_t n, int first_layer, int last_layer,
                       float* last_out);
  void enqueue_backward(const float* x, int64_t n, int first_layer, const ChunkTable& table);
  void enqueue_update(const ChunkTable& table);
  // The whole step; with capture_node set, also reports the gather node.
  void enqueue_step(const CudaDataset& d, int64_t begin, int64_t n, int first_layer,
                    const ChunkTable& table, cudaGraphNode_t* capture_node);
  GatherArgs gather_args(const CudaDataset& d, int64_t begin, int64_t n) const;
  bool try_capture(const StepKey& key, const CudaDataset& d, int64_t begin, int64_t n,
                   int first_layer, const ChunkTable& table);
  // The fused step's program for first_layer (everything but the batch), or
  // null when the fused step can't run it (the reason goes to stats_).
  fused::Program* fused_program(int first_layer);

  CudaBackendOptions options_;
  int device_ = 0;
  std::string description_;
  CudaBackendStats stats_;
  uint64_t use_clock_ = 0;

  cudaStream_t stream_ = nullptr;
  cudaStream_t side_ = nullptr;
  cudaEvent_t fork_ = nullptr;
  cudaEvent_t join_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  cublasHandle_t blas_side_ = nullptr;
  DeviceBuffer<unsigned char> blas_ws_, blas_side_ws_;

  // Model.
  std::vector<DenseLayerShape> layers_;
  OptimizerConfig optimizer_;
  int num_slots_ = 0;
  int64_t max_batch_ = 0;
  std::vector<int64_t> offset_, count_;  // per parameter, in the flat buffers
  std::vector<bool> trainable_;
  uint64_t trainable_version_ = 0;

  // Device memory. Flat buffers share one layout: parameter i at offset_[i].
  DeviceBuffer<float> params_, grads_, slot0_, slot1_;
  std::vector<DeviceBuffer<float>> act_;    // [max_batch, fan_out(l)] layer outputs
  std::vector<DeviceBuffer<float>> dgrad_;  // [max_batch, fan_out(l)] d loss / d output(l)
  DeviceBuffer<float> x_batch_;             // [max_batch, max fan_in] gathered inputs
  DeviceBuffer<int32_t> y_batch_;           // [max_batch] gathered labels
  DeviceBuffer<float> bias_partials_;
  DeviceBuffer<unsigned> bias_arrivals_;
  DeviceBuffer<double> xent_loss_partials_;
  DeviceBuffer<long long> xent_correct_partials_;
  DeviceBuffer<double> norm_partials_;
  DeviceBuffer<DeviceState> state_;
  DeviceState* host_state_ = nullptr;  // pinned mirror for read-backs
  BiasGradWorkspace bias_ws_;
  XentWorkspace xent_ws_;

  std::map<int, ChunkTable> chunk_tables_;  // by first_layer, for trainable_version_
  std::map<StepKey, StepGraph> graphs_;
  std::map<StepKey, int> eager_runs_;  // a key is captured on its second step
  // Fused step: programs by first_layer (cleared with the trainable set),
  // per-row-tile loss sums, and the cooperative grid (0: not yet asked).
  std::map<int, std::unique_ptr<fused::Program>> fused_programs_;  // null: unsupported
  DeviceBuffer<double> fused_tile_loss_;
  DeviceBuffer<long long> fused_tile_hits_;
  int fused_grid_ = 0;
  fused::Schedule fused_schedule_ = fused::Schedule::kAuto;
  int64_t train_samples_ = 0;
};

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

void CudaBackend::clear_graphs() {
  for (auto& [key, g] : graphs_) {
    // An executable graph still in flight is freed when it completes.
    if (g.exec) GRAFT_CUDA_CHECK(cudaGraphExecDestroy(g.exec));
    if (g.graph) GRAFT_CUDA_CHECK(cudaGraphDestroy(g.graph));
  }
  graphs_.clear();
  eager_runs_.clear();
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

  const int np = num_params();
  offset_.assign(np, 0);
  count_.assign(np, 0);
  int64_t flat = 0;
  int64_t max_in = 0, max_out = 0;
  for (int l = 0; l < static_cast<int>(layers_.size()); ++l) {
    const auto& s = layers_[l];
    offset_[2 * l] = flat;
    count_[2 * l] = s.fan_in * s.fan_out;
    flat = align_up(flat + count_[2 * l]);
    offset_[2 * l + 1] = flat;
    count_[2 * l + 1] = s.fan_out;
    flat = align_up(flat + count_[2 * l + 1]);
    max_in = std::max(max_in, s.fan_in);
    max_out = std::max(max_out, s.fan_out);
  }
  trainable_.assign(np, true);
  ++trainable_version_;

  const auto f = static_cast<std::size_t>(flat);
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
  for (int i = 0; i < np; ++i) all.emplace_back(offset_[i], count_[i]);
  norm_partials_ = DeviceBuffer<double>(make_update_chunks(all).size(), "gradient-norm partials");

  DeviceState init{};
  init.step = 0;
  init.beta1_power = optimizer.beta1;
  init.beta2_power = optimizer.beta2;
  init.norm_scale = 1.0f;
  copy_to_device(state_.get(), &init, sizeof init);
  train_samples_ = 0;
}

void CudaBackend::write_param(int index, const float* src) {
  check_index(index, "write_param");
  copy_to_device(param_ptr(index), src, count_[index] * sizeof(float));
}

void CudaBackend::read_param(int index, float* dst) {
  check_index(index, "read_param");
  copy_to_host(dst, param_ptr(index), count_[index] * sizeof(float));
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
  float* base = slot == 0 ? slot0_.get() : slot1_.get();
  copy_to_device(base + offset_[index], src, count_[index] * sizeof(float));
}

void CudaBackend::read_slot(int index, int slot, float* dst) {
  check_index(index, "read_slot");
  if (slot < 0 || slot >= num_slots_) {
    throw Error("cuda backend: read_slot: " + optimizer_name(optimizer_.kind) + " has " +
                std::to_string(num_slots_) + " slot(s), not slot " + std::to_string(slot));
  }
  const float* base = slot == 0 ? slot0_.get() : slot1_.get();
  copy_to_host(dst, base + offset_[index], count_[index] * sizeof(float));
}

void CudaBackend::write_scalars(const OptimizerScalars& scalars) {
  require_built("write_scalars");
  copy_to_host(host_state_, state_.get(), sizeof(DeviceState));
  host_state_->step = scalars.step;
  host_state_->beta1_power = scalars.beta1_power;
  host_state_->beta2_power = scalars.beta2_power;
  copy_to_device(state_.get(), host_state_, sizeof(DeviceState));
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
                      out->features.get() + b * out_cols);
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

// ---------------------------------------------------------------------------
// Forward through layers [first_layer, last_layer] on n rows of x. The last
// layer writes to last_out when given (forward_prefix), else to act_.
void CudaBackend::enqueue_forward(const float* x, int64_t n, int first_layer, int last_layer,
                                  float* last_out) {
  NvtxRange range("graft.forward");
  const float* in = x;
  for (int l = first_layer; l <= last_layer; ++l) {
    const auto& s = layers_[l];
    float* out = (l == last_layer && last_out != nullptr) ? last_out : act_[l].get();
    gemm_forward(blas_, in, param_ptr(2 * l), out, n, s.fan_in, s.fan_out);
    bias_activation_forward(out, param_ptr(2 * l + 1), n, s.fan_out, s.activation, stream_);
    in = out;
  }
}

// Backward from dgrad_[last] (written by softmax_xent) down to the lowest
// layer with a trainable parameter. Weight gradients fork onto side_.
void CudaBackend::enqueue_backward(const float* x, int64_t n, int first_layer,
                                   const ChunkTable& table) {
  NvtxRange range("graft.backward");
  bool forked = false;
  for (const PlannedBackward& b : table.plan.backward) {
    const int l = b.node;
    const auto& s = layers_[l];
    const float* in = (l == first_layer) ? x : act_[l - 1].get();
    // dgrad_[l] *= act'(y); bias gradient (computed even for a frozen bias:
    // it costs nothing extra in this pass, and the update skips it).
    activation_backward_bias_grad(dgrad_[l].get(), act_[l].get(), grad_ptr(2 * l + 1), n,
                                  s.fan_out, s.activation, bias_ws_, stream_);
    if (b.kernel_grad) {
      GRAFT_CUDA_CHECK(cudaEventRecord(fork_, stream_));
      GRAFT_CUDA_CHECK(cudaStreamWaitEvent(side_, fork_, 0));
      gemm_weight_grad(blas_side_, in, dgrad_[l].get(), grad_ptr(2 * l), n, s.fan_in, s.fan_out);
      forked = true;
    }
    if (b.input_grad) {
      gemm_input_grad(blas_, dgrad_[l].get(), param_ptr(2 * l), dgrad_[l - 1].get(), n, s.fan_in,
                      s.fan_out);
    }
  }
  if (forked) {
    GRAFT_CUDA_CHECK(cudaEventRecord(join_, side_));
    GRAFT_CUDA_CHECK(cudaStreamWaitEvent(stream_, join_, 0));
  }
}

void CudaBackend::enqueue_update(const ChunkTable& table) {
  NvtxRange range("graft.update");
  const float* scale = nullptr;
  if (optimizer_.clip_norm > 0.0f) {
    global_norm_scale(grads_.get(), table.chunks.get(), table.count, optimizer_.clip_norm,
                      norm_partials_.get(), state_.get(), stream_);
    scale = &state_.get()->norm_scale;
  }
  optimizer_update(optimizer_, params_.get(), grads_.get(), slot0_.get(), slot1_.get(),
                   table.chunks.get(), table.count, scale, state_.get(), stream_);
}

GatherArgs CudaBackend::gather_args(const CudaDataset& d, int64_t begin, int64_t n) const {
  GatherArgs a;
  a.features = d.features.get();
  a.labels = d.labels.get();
  a.order = d.order.get();
  a.begin = begin;
  a.n = n;
  a.cols = d.cols();
  a.out = x_batch_.get();
  a.labels_out = y_batch_.get();
  return a;
}

void CudaBackend::enqueue_step(const CudaDataset& d, int64_t begin, int64_t n, int first_layer,
                               const ChunkTable& table, cudaGraphNode_t* capture_node) {
  gather_batch(gather_args(d, begin, n), stream_);
  if (capture_node != nullptr) {
    // The gather is the first captured node, so it is the capture's only
    // current dependency: that is its handle for later SetParams calls.
    cudaStreamCaptureStatus status{};
    const cudaGraphNode_t* deps = nullptr;
    std::size_t num_deps = 0;
    GRAFT_CUDA_CHECK(cudaStreamGetCaptureInfo(stream_, &status, nullptr, nullptr, &deps, nullptr,
                                              &num_deps));
    if (status != cudaStreamCaptureStatusActive || num_deps != 1 || deps == nullptr) {
      throw Error("cuda backend: could not find the gather node in the captured step");
    }
    *capture_node = deps[0];
  }
  const int last = static_cast<int>(layers_.size()) - 1;
  enqueue_forward(x_batch_.get(), n, first_layer, last, nullptr);
  softmax_xent(act_[last].get(), y_batch_.get(), dgrad_[last].get(), n, layers_[last].fan_out,
               1.0f / static_cast<float>(n), &state_.get()->train, &state_.get()->xent_arrivals,
               xent_ws_, stream_);
  if (table.count > 0) {
    enqueue_backward(x_batch_.get(), n, first_layer, table);
    enqueue_update(table);
  } else {
    optimizer_advance_scalars(optimizer_, state_.get(), stream_);  // the step still counts
  }
}

const CudaBackend::ChunkTable& CudaBackend::chunk_table(int first_layer) {
  auto it = chunk_tables_.find(first_layer);
  if (it != chunk_tables_.end()) return it->second;
  ChunkTable t;
  t.plan = plan_step(trainable_, first_layer, optimizer_.clip_norm > 0.0f);
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (int i = 2 * first_layer; i < num_params(); ++i) {
    if (trainable_[i]) ranges.emplace_back(offset_[i], count_[i]);
  }
  const std::vector<UpdateChunk> chunks = make_update_chunks(ranges);
  t.count = static_cast<int>(chunks.size());
  if (t.count > 0) {
    t.chunks = DeviceBuffer<UpdateChunk>(chunks.size(), "update chunk table");
    // Once per (first_layer, trainable set): a synchronous copy is fine here.
    copy_to_device(t.chunks.get(), chunks.data(), chunks.size() * sizeof(UpdateChunk));
  }
  return chunk_tables_.emplace(first_layer, std::move(t)).first->second;
}

bool CudaBackend::try_capture(const StepKey& key, const CudaDataset& d, int64_t begin, int64_t n,
                              int first_layer, const ChunkTable& table) {
  StepGraph g;
  GRAFT_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
  try {
    enqueue_step(d, begin, n, first_layer, table, &g.gather_node);
  } catch (const std::exception& e) {
    cudaGraph_t partial = nullptr;
    (void)cudaStreamEndCapture(stream_, &partial);
    if (partial != nullptr) (void)cudaGraphDestroy(partial);
    (void)cudaGetLastError();
    stats_.graph_error = std::string("capture failed: ") + e.what();
    options_.use_graphs = false;
    return false;
  }
  cudaError_t err = cudaStreamEndCapture(stream_, &g.graph);
  if (err == cudaSuccess && cudaGraphKernelNodeGetParams(g.gather_node, &g.gather_params) != cudaSuccess) {
    (void)cudaGetLastError();  // rebuild the node's launch shape ourselves
    g.gather_params = gather_batch_launch_params(gather_args(d, begin, n));
  }
  if (err == cudaSuccess) err = cudaGraphInstantiate(&g.exec, g.graph, 0);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    if (g.graph != nullptr) (void)cudaGraphDestroy(g.graph);
    stats_.graph_error = std::string("capture failed: ") + cudaGetErrorString(err);
    options_.use_graphs = false;
    return false;
  }
  if (graphs_.size() >= kMaxGraphs) {
    auto oldest = std::min_element(graphs_.begin(), graphs_.end(), [](const auto& a, const auto& b) {
      return a.second.last_use < b.second.last_use;
    });
    GRAFT_CUDA_CHECK(cudaGraphExecDestroy(oldest->second.exec));
    GRAFT_CUDA_CHECK(cudaGraphDestroy(oldest->second.graph));
    graphs_.erase(oldest);
  }
  graphs_.emplace(key, g);
  ++stats_.graph_captures;
  return true;
}

void CudaBackend::train_step(const DeviceDataset& data, int64_t begin, int64_t n,
                             int first_layer) {
  require_built("train_step");
  const CudaDataset& d = as_cuda(data);
  const int nl = static_cast<int>(layers_.size());
  if (first_layer < 0 || first_layer >= nl) {
    throw Error("cuda backend: train_step: first_layer " + std::to_string(first_layer) +
                " outside [0, " + std::to_string(nl) + ")");
  }
  if (d.cols() != layers_[first_layer].fan_in) {
    throw Error("cuda backend: train_step: data has " + std::to_string(d.cols()) +
                " columns, layer " + std::to_string(first_layer) + " takes " +
                std::to_string(layers_[first_layer].fan_in));
  }
  if (n <= 0 || n > max_batch_) {
    throw Error("cuda backend: train_step: batch of " + std::to_string(n) +
                " rows outside [1, max_batch = " + std::to_string(max_batch_) + "]");
  }
  if (begin < 0 || begin + n > d.rows()) {
    throw Error("cuda backend: train_step: rows [" + std::to_string(begin) + ", " +
                std::to_string(begin + n) + ") outside the data set's " +
                std::to_string(d.rows()));
  }
  NvtxRange range("graft.train_step");
  if (options_.fused_step && n <= kFusedMaxBatch) {
    if (fused::Program* p = fused_program(first_layer)) {
      fused::set_batch(*p, d.features.get(), d.labels.get(), d.order.get(), d.cols(), begin, n);
      try {
        fused_step_launch(*p, fused_grid_, stream_);
        train_samples_ += n;
        ++stats_.fused_steps;
        return;
      } catch (const Error& e) {
        // A launch the driver refuses (e.g. the grid cannot be co-resident
        // under MPS) enqueues nothing: say why and take the graph path from
        // now on. Faults inside the kernel are not caught here; they surface
        // at the next synchronising call like any other.
        (void)cudaGetLastError();
        stats_.fused_error = std::string("cooperative launch failed: ") + e.what();
        options_.fused_step = false;
      }
    }
  }
  const ChunkTable& table = chunk_table(first_layer);
  train_samples_ += n;

  if (options_.use_graphs) {
    const StepKey key{d.id, n, first_layer, trainable_version_};
    auto it = graphs_.find(key);
    if (it == graphs_.end() && ++eager_runs_[key] >= 2 &&
        try_capture(key, d, begin, n, first_layer, table)) {
      it = graphs_.find(key);
    }
    if (it != graphs_.end()) {
      // Only the batch offset changes between replays.
      gather_batch_update_node(it->second.exec, it->second.gather_node, it->second.gather_params,
                               gather_args(d, begin, n));
      GRAFT_CUDA_CHECK(cudaGraphLaunch(it->second.exec, stream_));
      it->second.last_use = ++use_clock_;
      ++stats_.graph_launches;
      return;
    }
  }
  // Eager: the first step of each key (it also warms up cuBLAS, so that no
  // lazy initialisation happens inside a capture), or graphs off.
  enqueue_step(d, begin, n, first_layer, table, nullptr);
  ++stats_.eager_steps;
}

fused::Program* CudaBackend::fused_program(int first_layer) {
  auto it = fused_programs_.find(first_layer);
  if (it != fused_programs_.end()) return it->second.get();
  std::string why = fused::unsupported_reason(layers_, first_layer, optimizer_, max_batch_);
  if (why.empty() && fused_grid_ == 0) fused_grid_ = fused_step_grid(device_, options_.fused_blocks, &why);
  if (!why.empty()) {
    stats_.fused_error = why;  // decided once per first_layer: these steps take the cuBLAS path
    fused_programs_.emplace(first_layer, nullptr);
    return nullptr;
  }
  std::vector<fused::LayerMemory> memory(layers_.size());
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    fused::LayerMemory& m = memory[l];
    const int w = static_cast<int>(2 * l), b = w + 1;
    m.w = param_ptr(w);
    m.b = param_ptr(b);
    for (int k = 0; k < num_slots_; ++k) {
      float* base = k == 0 ? slot0_.get() : slot1_.get();
      m.w_slot[k] = base + offset_[w];
      m.b_slot[k] = base + offset_[b];
    }
    m.out = act_[l].get();
    m.dz = dgrad_[l].get();
  }
  auto p = std::make_unique<fused::Program>(
      fused::make_program(layers_, first_layer, trainable_, optimizer_, memory,
                          fused_tile_loss_.get(), fused_tile_hits_.get(), state_.get(),
                          fused_schedule_));
  return fused_programs_.emplace(first_layer, std::move(p)).first->second.get();
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
  GRAFT_CUDA_CHECK(cudaMemsetAsync(&state_.get()->eval, 0, sizeof(Totals), stream_));
  const int last = nl - 1;
  for (int64_t b = 0; b < d.rows(); b += max_batch_) {
    const int64_t nb = std::min(max_batch_, d.rows() - b);
    enqueue_forward(d.features.get() + b * d.cols(), nb, first_layer, last, nullptr);
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

}  // namespace
}  // namespace cuda

// ---------------------------------------------------------------------------
CudaBackendOptions CudaBackendOptions::from_env() {
  CudaBackendOptions o;
  o.use_graphs = cuda::env_flag("GRAFT_CUDA_GRAPHS", o.use_graphs);
  o.allow_tf32 = cuda::env_flag("GRAFT_CUDA_TF32", o.allow_tf32);
  o.fused_step = cuda::env_flag("GRAFT_CUDA_FUSED", o.fused_step);
  if (const char* v = std::getenv("GRAFT_CUDA_FUSED_SCHEDULE"); v != nullptr && *v != '\0') {
    o.fused_schedule = v;
    cuda::fused::Schedule unused{};
    if (!cuda::fused::parse_schedule(o.fused_schedule, &unused)) {
      throw Error(std::string("GRAFT_CUDA_FUSED_SCHEDULE=") + v +
                  ": expected auto, row-local or per-layer");
    }
  }
  if (const char* v = std::getenv("GRAFT_CUDA_FUSED_BLOCKS"); v != nullptr && *v != '\0') {
    char* end = nullptr;
    errno = 0;
    const long blocks = std::strtol(v, &end, 10);
    if (errno != 0 || *end != '\0' || blocks <= 0 || blocks > 1 << 20) {
      throw Error(std::string("GRAFT_CUDA_FUSED_BLOCKS=") + v +
                  ": expected a positive number of blocks");
    }
    o.fused_blocks = static_cast<int>(blocks);
  }
  return o;
}

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
