#pragma once
// Internal to cuda/: the CUDA backend's class, shared by the files that
// implement it, one job each:
//   cuda_backend.cc          memory and streams: construction, build(),
//                            parameter/slot/scalar I/O, data sets, evaluate,
//                            the factories
//   cuda_backend_steps.cc    the step graphs: enqueue_*, chunk tables,
//                            capture and replay, train_step
//   cuda_backend_fused.cc    the fused-step strategy (its program)
//   cuda_backend_nodes.cc    batch norm and dropout nodes on the graph path
//                            (their buffers, forward and backward forms;
//                            the walk itself is cuda/node_walk.h)
//   cuda_backend_options.cc  CudaBackendOptions::from_env
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

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "checkpoint/error.h"
#include "cuda/batch_norm.h"
#include "cuda/bias_activation.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_backend_options.h"
#include "cuda/device_buffer.h"
#include "cuda/device_state.h"
#include "cuda/fused/plan.h"
#include "cuda/gather.h"
#include "cuda/node_walk.h"
#include "cuda/optimizer_update.h"
#include "cuda/reductions.h"
#include "cuda/regularization.h"
#include "cuda/shuffle.h"
#include "cuda/softmax_xent.h"
#include "host/backend.h"
#include "host/model/parameter_layout.h"
#include "host/step_plan.h"

namespace graft::cuda {

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

inline const CudaDataset& as_cuda(const DeviceDataset& d) {
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
  int num_params() const override { return layout_.size(); }
  ParameterLayout allocated_layout(ParamBuffer buffer) const override;
  void write_param(int index, const float* src) override;
  void read_param(int index, float* dst) override;
  void set_trainable(int index, bool trainable) override;
  bool trainable(int index) const override;
  void write_slot(int index, int slot, const float* src) override;
  void read_slot(int index, int slot, float* dst) override;
  void write_scalars(const OptimizerScalars& scalars) override;
  void set_learning_rate(float learning_rate) override;
  OptimizerScalars read_scalars() override;
  void set_regularization(const std::vector<ParamRegularizer>& per_param) override;
  std::unique_ptr<DeviceDataset> upload(const float* features, const int32_t* labels, int64_t rows,
                                        int64_t cols) override;
  std::unique_ptr<DeviceDataset> forward_prefix(const DeviceDataset& data, int k) override;
  void shuffle(DeviceDataset& data, uint64_t seed, uint64_t epoch) override;
  void train_step(const DeviceDataset& data, int64_t begin, int64_t n, int first_layer) override;
  EpochTotals take_train_totals() override;
  EpochTotals evaluate(const DeviceDataset& data, int first_layer) override;
  void predict_logits(const float* features, int64_t rows, int64_t cols, float* logits) override;
  // The seed is an argument of the dropout kernels in captured graphs: a new
  // one drops them (the step is read from device state, see device_step()).
  void set_dropout_seed(uint64_t seed) override;

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
    std::vector<NodeForward> forward;    // its nodes' forms (cuda/node_walk.h)
    std::vector<NodeBackward> backward;  // top node first
    DeviceBuffer<UpdateChunk> chunks;
    int count = 0;
    RegularizationTable reg;  // this plan's regularization gradients and max-norms (cuda/regularization.h)
  };

  void require_built(const char* what) const;
  void check_index(int index, const char* what) const;
  float* param_ptr(int index) const { return params_.get() + layout_[index].offset; }
  float* grad_ptr(int index) const { return grads_.get() + layout_[index].offset; }
  float* slot_ptr(int slot, int index) const {
    return (slot == 0 ? slot0_.get() : slot1_.get()) + layout_[index].offset;
  }
  void copy_to_device(void* dst, const void* src, std::size_t bytes);
  void copy_to_host(void* dst, const void* src, std::size_t bytes);
  void sync();
  void clear_graphs();
  const ChunkTable& chunk_table(int first_layer);

  // The step's pieces, enqueued on stream_ (and side_). enqueue_forward runs
  // the nodes of `walk` in [first_layer, last_layer] (a table's walk, or
  // infer_walk_ for evaluate and forward_prefix).
  void enqueue_forward(const float* x, int64_t n, int first_layer, int last_layer,
                       float* last_out, const std::vector<NodeForward>& walk);
  void enqueue_backward(const float* x, int64_t n, int first_layer, const ChunkTable& table);
  void enqueue_update(const ChunkTable& table);
  // The whole step; with capture_node set, also reports the gather node.
  void enqueue_step(const CudaDataset& d, int64_t begin, int64_t n, int first_layer,
                    const ChunkTable& table, cudaGraphNode_t* capture_node);
  // Batch norm and dropout (cuda_backend_nodes.cc): their buffers, sized in
  // build(), and one node's kernels. x: the node's input; backward reads
  // dgrad_[node] and writes dgrad_[node - 1] when b.input_grad.
  void build_nodes();
  void enqueue_node_forward(const NodeForward& f, const float* x, float* out, int64_t n);
  void enqueue_node_backward(const NodeBackward& b, const float* x, int64_t n);
  // The optimizer's global step in device state, which the dropout kernels
  // read when they run (so a replayed graph draws the mask of each step).
  const uint64_t* device_step() const;
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
  ParameterLayout layout_;  // parameter_layout(layers_): every tensor's place in the flat buffers
  std::vector<bool> trainable_;
  uint64_t trainable_version_ = 0;

  // Device memory. The flat buffers share layout_: parameter i at layout_[i].offset.
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
  CudaRegularizer regularizer_;  // L1/L2 and max-norm (none unless set)

  // Batch norm and dropout nodes (empty for a dense stack).
  BatchNormPath bn_requested_ = BatchNormPath::kAuto;  // options_.batch_norm
  BatchNormPath bn_path_ = BatchNormPath::kFused;      // what build() resolved it to for these layers
  std::vector<NodeForward> infer_walk_;               // every node in inference form
  std::vector<DeviceBuffer<float>> bn_stats_;         // per node: batch mean, variance, rstd [fan_out] each (batch norm only)
  DeviceBuffer<float> bn_sums_;                       // the fused kernels' backward scratch
  std::unique_ptr<CudnnBatchNorm> cudnn_bn_;          // the cuDNN path's handle and scratch

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

}  // namespace graft::cuda
