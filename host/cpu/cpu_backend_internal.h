#pragma once
// Internal to host/cpu/: the CPU backend's class, shared by the files that
// implement it, one job each:
//   cpu_backend.cc           construction, description, build(), parameter/
//                            slot/scalar I/O, the argument checks, the step
//                            plan cache, the batch-norm tensor views,
//                            upload, shuffle, the factories
//   cpu_backend_forward.cc   the forward paths (by rows, by columns), the
//                            batch-norm/dropout forward, the loss,
//                            forward_prefix, predict_logits, evaluate
//   cpu_backend_backward.cc  train_step: gather, forward, backward (dense,
//                            activation, batch-norm/dropout), clipping by
//                            global norm, max-norm
//   cpu_backend_update.cc    the optimizer update of a range of a tensor or
//                            of the whole tensor
// The entry points are make_cpu_backend / max_cpu_threads (host/backend.h).
//
// The CPU reference backend: single-threaded GEMM calls (host/cpu/sgemm.h:
// OpenBLAS, or libxsmm for cache-sized ones) split between the cores by a
// ThreadTeam, with the reference kernels as fused epilogues. Parallel layout
// of one training step (n rows, L layers):
//
//   gather       rows of the batch copied once into a contiguous input
//   forward      large n: each thread runs its own block of rows through
//                every layer (no barrier between layers) and its softmax;
//                small n: each GEMM is split by kernel rows, as backward
//                splits them, so a thread reads the rows it updated (in its
//                cache); the partial products are summed in part order
//   backward     per layer: activation gradient + bias gradient (row blocks,
//                per-thread partial bias sums), then one job per thread that
//                owns a block of the kernel's rows: dW rows, the matching
//                columns of the input gradient (they only read those rows of
//                W), then the update of those rows while they are in cache
//   clip_norm    the update cannot start before every gradient exists: all
//                gradients first, the global norm, then a parallel update
//
// Batch norm and dropout nodes (host/cpu/node_ops.h) run over the whole
// batch: a training-form batch norm needs the batch's statistics before any
// row can go on, and a dropout mask is a function of the row's place in the
// batch, so a training step with a training-form node takes the whole-batch
// path (forward_columns: each GEMM split by kernel rows below kRowSplitRows
// rows, by columns above) throughout. Inference forms are per row and keep
// the row-split paths (evaluation, the frozen-layer cache).
//
// Nothing allocates inside train_step; every buffer is sized in build().
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "checkpoint/error.h"
#include "host/backend.h"
#include "host/cpu/aligned_buffer.h"
#include "host/cpu/cpu_dataset.h"
#include "host/cpu/node_ops.h"
#include "host/cpu/regularization.h"
#include "host/cpu/sgemm.h"
#include "host/cpu/thread_team.h"
#include "host/step_plan.h"

namespace graft::cpu_backend_detail {

using cpu::AlignedBuffer;
using cpu::as_cpu;
using cpu::CpuDataset;
using cpu::gemm;
using cpu::Range;
using cpu::split_range;
using cpu::ThreadTeam;

// Below this many flops a GEMM runs on one thread: waking a second core costs
// about as much as it saves.
constexpr double kParallelGemmFlops = 1.5e6;
// From this many rows on, the forward pass splits the batch by rows.
constexpr int64_t kRowSplitRows = 256;
// Evaluation and inference run their rows in blocks of this many, at fixed
// offsets, whatever the thread count (run_row_blocks).
constexpr int64_t kRowBlockRows = 256;
constexpr int64_t row_block_count(int64_t rows) { return (rows + kRowBlockRows - 1) / kRowBlockRows; }
// Element-wise passes smaller than this stay on one thread.
constexpr int64_t kParallelElements = 1 << 15;

// A tensor inside one of the flat buffers (parameter_layout's offset and count).
struct TensorView {
  float* ptr = nullptr;
  int64_t count = 0;
  float* data() const { return ptr; }
  int64_t size() const { return count; }
};

class CpuBackend final : public Backend {
 public:
  // cpu_backend.cc
  explicit CpuBackend(int threads);

  std::string description() const override;

  void build(const std::vector<DenseLayerShape>& layers, const OptimizerConfig& optimizer,
             int64_t max_batch) override;

  int num_params() const override { return static_cast<int>(params_.size()); }

  ParameterLayout allocated_layout(ParamBuffer buffer) const override;

  void write_param(int index, const float* src) override;
  void read_param(int index, float* dst) override;

  void set_trainable(int index, bool trainable) override;
  bool trainable(int index) const override;

  void write_slot(int index, int slot, const float* src) override;
  void read_slot(int index, int slot, float* dst) override;
  void write_scalars(const OptimizerScalars& scalars) override { scalars_ = scalars; }
  void set_learning_rate(float learning_rate) override;
  OptimizerScalars read_scalars() override { return scalars_; }
  void set_regularization(const std::vector<ParamRegularizer>& per_param) override;

  std::unique_ptr<DeviceDataset> upload(const float* features, const int32_t* labels, int64_t rows,
                                        int64_t cols) override;

  void shuffle(DeviceDataset& data, uint64_t seed, uint64_t epoch) override;

  EpochTotals take_train_totals() override;

  // cpu_backend_forward.cc
  std::unique_ptr<DeviceDataset> forward_prefix(const DeviceDataset& data, int k) override;
  void predict_logits(const float* features, int64_t rows, int64_t cols, float* logits) override;
  EpochTotals evaluate(const DeviceDataset& data, int first_layer) override;

  // cpu_backend_backward.cc
  void train_step(const DeviceDataset& data, int64_t begin, int64_t n, int first_layer) override;

 private:
  // Per-thread loss and hit counts, a cache line each.
  struct alignas(64) PartTotals {
    double loss = 0.0;
    int64_t correct = 0;
  };

  // cpu_backend.cc: checks, views into the flat buffers, the step plans
  void check_index(int index) const;
  const TensorView& param(int index);
  const TensorView& slot_buffer(int index, int slot);
  void require_built() const {
    if (!built_) throw Error("cpu backend: build() must be called first");
  }
  const StepPlan& step_plan(int first_layer);
  void check_input_cols(const CpuDataset& data, int first_layer, const char* what) const;
  cpu::BatchNormTensors bn_tensors(int l);

  // cpu_backend_forward.cc (run_rows, run_row_blocks: below)
  template <typename F>
  void run_rows(int64_t n, F&& fn);
  template <typename F>
  void run_row_blocks(int64_t n, F&& fn);
  void inference_rows(const float* x, int64_t rows, int64_t cols, int k, float* out);
  void forward_rows(const float* input, int first, int last, Range r, float* last_out = nullptr);
  // Training only: splitting by kernel rows makes results depend on the
  // thread count (as the bias gradients' partial sums already do).
  void forward_columns(const float* input, int first, int64_t n, const StepPlan* plan = nullptr);
  void forward_loss(const float* input, const int32_t* labels, int first, int64_t n, float* dlogits,
                    double* loss_sum, int64_t* correct, const StepPlan* plan = nullptr);
  void other_node_forward(int l, const float* in, float* out, int64_t n, bool train);

  // cpu_backend_backward.cc
  void activation_backward(int l, int64_t n);
  float* grad_ptr(int l, ParamRole role, bool wanted);
  void other_node_backward(const PlannedBackward& b, int first_layer, int64_t n, bool fused_updates);

  // cpu_backend_update.cc
  float* slot_ptr(int index, int slot, int64_t offset);
  void update_range(int index, int64_t begin, int64_t end, float grad_scale);
  void update_whole(int index, float grad_scale);

  std::vector<DenseLayerShape> layers_;
  OptimizerConfig optimizer_;
  OptimizerScalars scalars_;
  int64_t max_batch_ = 0;
  int num_slots_ = 0;
  bool built_ = false;
  ParameterLayout layout_;  // parameter_layout(layers_): where each tensor lives in the flat buffers
  AlignedBuffer flat_params_, flat_grads_, flat_slots_[2];
  std::vector<TensorView> params_, grads_;  // by parameter index, into the flat buffers
  std::vector<std::array<TensorView, 2>> slots_;
  std::vector<bool> trainable_;
  std::map<int, StepPlan> plans_;  // by first layer, for the current trainable set
  std::vector<AlignedBuffer> act_;    // layer outputs after the activation, [max_batch, fan_out]
  std::vector<AlignedBuffer> delta_;  // gradients w.r.t. layer outputs / pre-activations
  std::vector<AlignedBuffer> stats_;  // batch norm nodes: batch mean, variance, rstd of the last training forward
  AlignedBuffer input_;               // the gathered batch
  std::vector<int32_t> labels_;
  std::vector<AlignedBuffer> bias_partial_;  // per-thread partial bias gradients
  // Parts 1.. of a small batch's forward GEMM split by kernel rows,
  // [kRowSplitRows, widest fan_out] each (forward_columns).
  std::vector<AlignedBuffer> forward_partial_;
  std::vector<PartTotals> part_totals_;
  std::vector<PartTotals> block_totals_;  // evaluation: one per kRowBlockRows block of max_batch_
  EpochTotals totals_;
  cpu::StepRegularizer regularizer_;  // L1/L2 penalties and max-norm (none unless set)
  ThreadTeam team_;
};

// Calls fn(rows, part) on row blocks of [0, n): split across the team when
// n is large, else once on the calling thread.
template <typename F>
void CpuBackend::run_rows(int64_t n, F&& fn) {
  if (team_.size() > 1 && n >= kRowSplitRows) {
    team_.run([&](int part, int parts) { fn(split_range(n, part, parts, 8), part); });
  } else {
    fn(Range{0, n}, 0);
  }
}

// Calls fn(rows, block) on the blocks [b·kRowBlockRows, (b + 1)·kRowBlockRows)
// of [0, n), the team taking whole blocks. Every GEMM then gets the same rows
// on any number of threads, which evaluation and inference need: OpenBLAS's
// kernels round a row differently depending on where it falls among the
// call's rows (its tail code for the last rows and columns), so splitting a
// batch by thread count would change the bits with the thread count.
template <typename F>
void CpuBackend::run_row_blocks(int64_t n, F&& fn) {
  const int64_t blocks = row_block_count(n);
  auto run = [&](Range b) {
    for (int64_t i = b.begin; i < b.end; ++i) {
      fn(Range{i * kRowBlockRows, std::min(n, (i + 1) * kRowBlockRows)}, i);
    }
  };
  if (team_.size() > 1 && blocks > 1) {
    team_.run([&](int part, int parts) { run(split_range(blocks, part, parts)); });
  } else {
    run(Range{0, blocks});
  }
}

}  // namespace graft::cpu_backend_detail
