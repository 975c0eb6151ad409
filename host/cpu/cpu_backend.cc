// Over 700 lines (711), not split yet: the CPU backend is one class whose
// gather, forward, backward and update phases share its buffers and thread
// team, and whose members are defined inside the class; splitting it by job
// (as cuda/cuda_backend*.cc are) first needs the class in an internal header
// with out-of-class member definitions, a change of every line of it that
// was not worth its risk beside this session's merges. What stands alone
// already lives apart: the node ops (host/cpu/node_ops.h), the kernels
// (reference_kernels.h, batch_norm_kernels.h, dropout_kernels.h) and the
// regularizers (regularization.h). The next cut: forward, backward and the
// update into cpu_backend_{forward,backward,update}.cc.
// The CPU reference backend: OpenBLAS GEMMs (single-threaded calls) split
// between the cores by a ThreadTeam, with the reference kernels as fused
// epilogues. Parallel layout of one training step (n rows, L layers):
//
//   gather       rows of the batch copied once into a contiguous input
//   forward      large n: each thread runs its own block of rows through
//                every layer (no barrier between layers) and its softmax;
//                small n: each GEMM is split by output columns
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
// batch, so a step with a training-form node takes the column path (each
// GEMM split by columns) throughout. Inference forms are per row and keep
// the row-split paths (evaluation, the frozen-layer cache).
//
// Nothing allocates inside train_step; every buffer is sized in build().
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <map>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint/error.h"
#include "host/backend.h"
#include "host/cpu/aligned_buffer.h"
#include "host/cpu/blas_kernels.h"
#include "host/cpu/cpu_dataset.h"
#include "host/cpu/node_ops.h"
#include "host/cpu/reference_kernels.h"
#include "host/cpu/regularization.h"
#include "host/cpu/sgemm.h"
#include "host/cpu/thread_team.h"
#include "host/data/shuffle_key.h"
#include "host/math/clip_math.h"
#include "host/math/optimizer_math.h"
#include "host/step_plan.h"

namespace graft {
namespace {

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
// Element-wise passes smaller than this stay on one thread.
constexpr int64_t kParallelElements = 1 << 15;

// A tensor inside one of the flat buffers (parameter_layout's offset and count).
struct TensorView {
  float* ptr = nullptr;
  int64_t count = 0;
  float* data() const { return ptr; }
  int64_t size() const { return count; }
};

int default_threads() {
  for (const char* var : {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"}) {
    if (const char* v = std::getenv(var)) {
      const int n = std::atoi(v);
      if (n > 0) return n;
    }
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads) : team_(threads) {
    // The team provides the parallelism; OpenBLAS's own threads would
    // compete with it (and cost a wake-up per small GEMM).
    cpu::set_blas_threads(1);
    part_totals_.resize(static_cast<std::size_t>(team_.size()));
  }

  std::string description() const override {
    return "cpu (" + cpu::blas_summary() + ", " + std::to_string(team_.size()) +
           (team_.size() == 1 ? " thread)" : " threads)");
  }

  void build(const std::vector<DenseLayerShape>& layers, const OptimizerConfig& optimizer,
             int64_t max_batch) override {
    if (layers.empty()) throw Error("cpu backend: a model needs at least one layer");
    if (max_batch <= 0) throw Error("cpu backend: max_batch must be positive");
    for (std::size_t l = 0; l < layers.size(); ++l) {
      if (layers[l].kind != NodeKind::kDense && layers[l].fan_in != layers[l].fan_out) {
        throw Error("cpu backend: " + std::string(node_kind_name(layers[l].kind)) + " node " + std::to_string(l) +
                    " changes the width");
      }
      if (layers[l].fan_in <= 0 || layers[l].fan_out <= 0) {
        throw Error("cpu backend: layer " + std::to_string(l) + " has an empty shape");
      }
      if (l > 0 && layers[l].fan_in != layers[l - 1].fan_out) {
        throw Error("cpu backend: layer " + std::to_string(l) + " takes " + std::to_string(layers[l].fan_in) +
                    " inputs but layer " + std::to_string(l - 1) + " gives " +
                    std::to_string(layers[l - 1].fan_out));
      }
    }
    layers_ = layers;
    optimizer_ = optimizer;
    scalars_ = OptimizerScalars{};
    scalars_.beta1_power = optimizer.beta1;
    scalars_.beta2_power = optimizer.beta2;
    max_batch_ = max_batch;
    const std::vector<float> slot_init = optimizer_slot_initial_values(optimizer);
    num_slots_ = static_cast<int>(slot_init.size());

    // One flat buffer per kind, every tensor where the layout puts it.
    layout_ = parameter_layout(layers);
    flat_params_ = AlignedBuffer(layout_.total);
    flat_grads_ = AlignedBuffer(layout_.total);
    for (int s = 0; s < 2; ++s) {
      flat_slots_[s] = s < num_slots_ ? AlignedBuffer(layout_.total) : AlignedBuffer();
      std::fill(flat_slots_[s].data(), flat_slots_[s].data() + flat_slots_[s].size(), s < num_slots_ ? slot_init[s] : 0.0f);
    }
    params_.clear();
    grads_.clear();
    slots_.clear();
    for (const ParamSlot& p : layout_.params) {
      params_.push_back({flat_params_.data() + p.offset, p.count});
      grads_.push_back({flat_grads_.data() + p.offset, p.count});
      std::array<TensorView, 2> slots;
      for (int s = 0; s < num_slots_; ++s) slots[s] = {flat_slots_[s].data() + p.offset, p.count};
      slots_.push_back(slots);
    }
    act_.clear();
    delta_.clear();
    stats_.clear();
    int64_t widest_in = 0, widest_out = 0;
    for (const auto& layer : layers) {
      act_.emplace_back(max_batch * layer.fan_out);
      delta_.emplace_back(max_batch * layer.fan_out);
      // batch norm: the batch's mean, variance and rstd, [fan_out] each
      stats_.emplace_back(layer.kind == NodeKind::kBatchNorm ? 3 * layer.fan_out : 0);
      widest_in = std::max(widest_in, layer.fan_in);
      widest_out = std::max(widest_out, layer.fan_out);
    }
    trainable_.assign(params_.size(), true);
    plans_.clear();
    // Input of the first trained layer (any layer, after forward_prefix).
    input_ = AlignedBuffer(max_batch * widest_in);
    labels_.assign(static_cast<std::size_t>(max_batch), 0);
    bias_partial_.clear();
    for (int t = 0; t < team_.size(); ++t) bias_partial_.emplace_back(widest_out);
    totals_ = EpochTotals{};
    regularizer_.configure(layout_, layers_, {});
    built_ = true;
  }

  int num_params() const override { return static_cast<int>(params_.size()); }

  ParameterLayout allocated_layout(ParamBuffer buffer) const override {
    require_built();
    const int slot = buffer == ParamBuffer::kSlot0 ? 0 : buffer == ParamBuffer::kSlot1 ? 1 : -1;
    if (slot >= num_slots_) {
      throw Error("cpu backend: optimizer " + optimizer_name(optimizer_.kind) + " has no slot " + std::to_string(slot));
    }
    const AlignedBuffer& base = buffer == ParamBuffer::kParams ? flat_params_
                                : buffer == ParamBuffer::kGrads ? flat_grads_
                                                                : flat_slots_[slot];
    ParameterLayout out = layout_;
    out.total = base.size();
    for (std::size_t i = 0; i < out.params.size(); ++i) {
      const TensorView& t = buffer == ParamBuffer::kParams ? params_[i]
                            : buffer == ParamBuffer::kGrads ? grads_[i]
                                                            : slots_[i][static_cast<std::size_t>(slot)];
      out.params[i].offset = t.data() - base.data();
      out.params[i].count = t.size();
    }
    return out;
  }

  void write_param(int index, const float* src) override {
    const TensorView& p = param(index);
    std::copy(src, src + p.size(), p.data());
  }
  void read_param(int index, float* dst) override {
    const TensorView& p = param(index);
    std::copy(p.data(), p.data() + p.size(), dst);
  }

  void set_trainable(int index, bool trainable) override {
    param(index);
    trainable_[static_cast<std::size_t>(index)] = trainable;
    plans_.clear();
  }
  bool trainable(int index) const override {
    check_index(index);
    return trainable_[static_cast<std::size_t>(index)];
  }

  void write_slot(int index, int slot, const float* src) override {
    const TensorView& s = slot_buffer(index, slot);
    std::copy(src, src + s.size(), s.data());
  }
  void read_slot(int index, int slot, float* dst) override {
    const TensorView& s = slot_buffer(index, slot);
    std::copy(s.data(), s.data() + s.size(), dst);
  }
  void write_scalars(const OptimizerScalars& scalars) override { scalars_ = scalars; }
  void set_learning_rate(float learning_rate) override {
    require_built();
    optimizer_.learning_rate = learning_rate;  // every update reads it (host/math/optimizer_math.h)
  }
  OptimizerScalars read_scalars() override { return scalars_; }
  void set_regularization(const std::vector<ParamRegularizer>& per_param) override {
    require_built();
    regularizer_.configure(layout_, layers_, per_param);  // host/cpu/regularization.h
  }

  std::unique_ptr<DeviceDataset> upload(const float* features, const int32_t* labels, int64_t rows,
                                        int64_t cols) override {
    if (rows < 0 || cols <= 0) throw Error("cpu backend: cannot upload a data set of shape [" +
                                           std::to_string(rows) + ", " + std::to_string(cols) + "]");
    auto data = std::make_unique<CpuDataset>(rows, cols);
    std::copy(features, features + rows * cols, data->features.data());
    std::copy(labels, labels + rows, data->labels.begin());
    return data;
  }

  std::unique_ptr<DeviceDataset> forward_prefix(const DeviceDataset& data, int k) override {
    require_built();
    const CpuDataset& src = as_cpu(data);
    if (k < 0 || k > static_cast<int>(layers_.size())) {
      throw Error("cpu backend: forward_prefix through " + std::to_string(k) + " layers of " +
                  std::to_string(layers_.size()));
    }
    check_input_cols(src, 0, "forward_prefix");
    const int64_t out_cols = k == 0 ? src.cols() : layers_[k - 1].fan_out;
    auto out = std::make_unique<CpuDataset>(src.rows(), out_cols);
    out->labels = src.labels;
    out->order = src.order;
    if (k == 0) {
      std::copy(src.features.data(), src.features.data() + src.rows() * src.cols(), out->features.data());
      return out;
    }
    inference_rows(src.features.data(), src.rows(), src.cols(), k, out->features.data());
    return out;
  }

  // Eval-mode logits: forward_prefix's inference pass through every node,
  // straight from the caller's rows into the caller's buffer.
  void predict_logits(const float* features, int64_t rows, int64_t cols, float* logits) override {
    require_built();
    if (rows < 0 || cols != layers_[0].fan_in) {
      throw Error("cpu backend: predict_logits on " + std::to_string(rows) + " rows of " + std::to_string(cols) +
                  " columns, but layer 0 takes " + std::to_string(layers_[0].fan_in) + " inputs");
    }
    inference_rows(features, rows, cols, static_cast<int>(layers_.size()), logits);
  }

  void shuffle(DeviceDataset& data, uint64_t seed, uint64_t epoch) override {
    CpuDataset* d = &cpu::as_cpu(data);
    std::vector<uint64_t> keys(static_cast<std::size_t>(d->rows()));
    for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = shuffle_key(seed, epoch, i);
    std::iota(d->order.begin(), d->order.end(), 0u);
    std::stable_sort(d->order.begin(), d->order.end(),
                     [&](uint32_t a, uint32_t b) { return keys[a] < keys[b]; });
  }

  void train_step(const DeviceDataset& data, int64_t begin, int64_t n, int first_layer) override;

  EpochTotals take_train_totals() override {
    const EpochTotals out = totals_;
    totals_ = EpochTotals{};
    return out;
  }

  EpochTotals evaluate(const DeviceDataset& data, int first_layer) override;

 private:
  // Per-thread loss and hit counts, a cache line each.
  struct alignas(64) PartTotals {
    double loss = 0.0;
    int64_t correct = 0;
  };

  void check_index(int index) const {
    if (index < 0 || index >= static_cast<int>(params_.size())) {
      throw Error("cpu backend: no parameter " + std::to_string(index) + " (the model has " +
                  std::to_string(params_.size()) + ")");
    }
  }
  const TensorView& param(int index) {
    check_index(index);
    return params_[static_cast<std::size_t>(index)];
  }
  const TensorView& slot_buffer(int index, int slot) {
    check_index(index);
    if (slot < 0 || slot >= num_slots_) {
      throw Error("cpu backend: optimizer " + optimizer_name(optimizer_.kind) + " has no slot " +
                  std::to_string(slot));
    }
    return slots_[static_cast<std::size_t>(index)][static_cast<std::size_t>(slot)];
  }
  void require_built() const {
    if (!built_) throw Error("cpu backend: build() must be called first");
  }
  // Computed once per (first layer, trainable set).
  const StepPlan& step_plan(int first_layer) {
    auto it = plans_.find(first_layer);
    if (it == plans_.end()) {
      it = plans_.emplace(first_layer, plan_step(layout_, trainable_, first_layer, optimizer_.clip_norm > 0.0f)).first;
    }
    return it->second;
  }

  void check_input_cols(const CpuDataset& data, int first_layer, const char* what) const {
    if (first_layer < 0 || first_layer >= static_cast<int>(layers_.size())) {
      throw Error(std::string("cpu backend: ") + what + ": no layer " + std::to_string(first_layer));
    }
    if (data.cols() != layers_[first_layer].fan_in) {
      throw Error(std::string("cpu backend: ") + what + ": the data has " + std::to_string(data.cols()) +
                  " columns but layer " + std::to_string(first_layer) + " takes " +
                  std::to_string(layers_[first_layer].fan_in) + " inputs");
    }
  }

  // Calls fn(rows, part) on row blocks of [0, n): split across the team when
  // n is large, else once on the calling thread.
  template <typename F>
  void run_rows(int64_t n, F&& fn) {
    if (team_.size() > 1 && n >= kRowSplitRows) {
      team_.run([&](int part, int parts) { fn(split_range(n, part, parts, 8), part); });
    } else {
      fn(Range{0, n}, 0);
    }
  }

  // `rows` rows of x (inputs of node 0) through nodes [0, k) in inference
  // form, in batches of max_batch_; node k - 1's outputs into `out`.
  void inference_rows(const float* x, int64_t rows, int64_t cols, int k, float* out) {
    const int64_t out_cols = layers_[k - 1].fan_out;
    for (int64_t start = 0; start < rows; start += max_batch_) {
      const int64_t n = std::min(max_batch_, rows - start);
      const float* in = x + start * cols;
      float* dst = out + start * out_cols;
      run_rows(n, [&](Range r, int) { forward_rows(in, 0, k, r, dst); });
    }
  }

  // Rows r of `input` (row stride = layer `first`'s fan_in) through layers
  // [first, last): layer l's outputs land in act_[l] (same row numbers),
  // the last one's in `last_out` instead when given.
  void forward_rows(const float* input, int first, int last, Range r, float* last_out = nullptr) {
    const float* in = input + r.begin * layers_[first].fan_in;
    for (int l = first; l < last; ++l) {
      const DenseLayerShape& s = layers_[l];
      float* out = (l == last - 1 && last_out ? last_out : act_[l].data()) + r.begin * s.fan_out;
      if (s.kind != NodeKind::kDense) {
        other_node_forward(l, in, out, r.size(), /*train=*/false);  // inference forms are per row
        in = out;
        continue;
      }
      gemm(false, false, r.size(), s.fan_out, s.fan_in, in, s.fan_in, params_[layout_.kernel(l)].data(), s.fan_out, out,
           s.fan_out);
      cpu::bias_activation_forward(out, params_[layout_.bias(l)].data(), r.size(), s.fan_out, s.activation);
      in = out;
    }
  }

  // Small batches, and any step with a training-form node: each layer's
  // GEMM split by output columns, the epilogue on the calling thread.
  // Outputs in act_. plan: the forms of batch norm and dropout (null: inference).
  void forward_columns(const float* input, int first, int64_t n, const StepPlan* plan = nullptr) {
    const float* in = input;
    for (int l = first; l < static_cast<int>(layers_.size()); ++l) {
      const DenseLayerShape& s = layers_[l];
      float* out = act_[l].data();
      if (s.kind != NodeKind::kDense) {
        other_node_forward(l, in, out, n, plan && plan->forward[static_cast<std::size_t>(l - first)].train);
        in = out;
        continue;
      }
      const float* w = params_[layout_.kernel(l)].data();
      if (team_.size() > 1 && 2.0 * n * s.fan_in * s.fan_out >= kParallelGemmFlops) {
        team_.run([&](int part, int parts) {
          const Range c = split_range(s.fan_out, part, parts, 16);
          gemm(false, false, n, c.size(), s.fan_in, in, s.fan_in, w + c.begin, s.fan_out, out + c.begin,
               s.fan_out);
        });
      } else {
        gemm(false, false, n, s.fan_out, s.fan_in, in, s.fan_in, w, s.fan_out, out, s.fan_out);
      }
      cpu::bias_activation_forward(out, params_[layout_.bias(l)].data(), n, s.fan_out, s.activation);
      in = out;
    }
  }

  // Forward pass and softmax cross-entropy over n rows of `input` (inputs of
  // layer `first`); dlogits (may be null) gets the mean-loss gradient.
  void forward_loss(const float* input, const int32_t* labels, int first, int64_t n, float* dlogits,
                    double* loss_sum, int64_t* correct, const StepPlan* plan = nullptr) {
    const int last = static_cast<int>(layers_.size()) - 1;
    const int64_t classes = layers_[last].fan_out;
    const float grad_scale = 1.0f / static_cast<float>(n);
    for (auto& t : part_totals_) t = PartTotals{};
    auto loss_rows = [&](Range r, int part) {
      cpu::softmax_xent(act_[last].data() + r.begin * classes, labels + r.begin,
                        dlogits ? dlogits + r.begin * classes : nullptr, r.size(), classes, grad_scale,
                        &part_totals_[part].loss, &part_totals_[part].correct);
    };
    bool whole_batch = false;  // a training-form node needs the whole batch at once
    for (std::size_t i = 0; plan && i < plan->forward.size(); ++i) whole_batch = whole_batch || plan->forward[i].train;
    if (team_.size() > 1 && n >= kRowSplitRows && !whole_batch) {
      run_rows(n, [&](Range r, int part) {
        forward_rows(input, first, last + 1, r);
        loss_rows(r, part);
      });
    } else {
      forward_columns(input, first, n, plan);
      if (whole_batch && team_.size() > 1 && n >= kRowSplitRows) {
        run_rows(n, [&](Range r, int part) { loss_rows(r, part); });
      } else {
        loss_rows(Range{0, n}, 0);
      }
    }
    for (const auto& t : part_totals_) {
      *loss_sum += t.loss;
      *correct += t.correct;
    }
  }

  // delta_[l] *= act'(act_[l]) and layer l's bias gradient = column sums.
  void activation_backward(int l, int64_t n) {
    const DenseLayerShape& s = layers_[l];
    float* bias_grad = grads_[layout_.bias(l)].data();
    if (team_.size() > 1 && n * s.fan_out >= kParallelElements) {
      team_.run([&](int part, int parts) {
        const Range r = split_range(n, part, parts, 8);
        cpu::activation_backward_bias_grad(delta_[l].data() + r.begin * s.fan_out,
                                           act_[l].data() + r.begin * s.fan_out, bias_partial_[part].data(),
                                           r.size(), s.fan_out, s.activation);
      });
      std::fill(bias_grad, bias_grad + s.fan_out, 0.0f);
      for (int t = 0; t < team_.size(); ++t) {
        for (int64_t c = 0; c < s.fan_out; ++c) bias_grad[c] += bias_partial_[t][c];
      }
    } else {
      cpu::activation_backward_bias_grad(delta_[l].data(), act_[l].data(), bias_grad, n, s.fan_out,
                                         s.activation);
    }
  }

  cpu::BatchNormTensors bn_tensors(int l) {
    cpu::BatchNormTensors t;
    auto at = [&](ParamRole role) {
      const int i = layout_.find(l, role);
      return i < 0 ? nullptr : params_[static_cast<std::size_t>(i)].data();
    };
    t.gamma = at(ParamRole::kGamma);
    t.beta = at(ParamRole::kBeta);
    t.moving_mean = at(ParamRole::kMovingMean);
    t.moving_variance = at(ParamRole::kMovingVariance);
    const int64_t c = layers_[l].fan_out;
    t.batch_mean = stats_[l].data();
    t.batch_var = stats_[l].data() + c;
    t.rstd = stats_[l].data() + 2 * c;
    return t;
  }

  // A batch-norm or dropout node over n rows of `in` (its input) into `out`.
  void other_node_forward(int l, const float* in, float* out, int64_t n, bool train) {
    const DenseLayerShape& s = layers_[l];
    if (s.kind == NodeKind::kBatchNorm) {
      cpu::batch_norm_forward(in, out, n, s, train, bn_tensors(l));
    } else {
      cpu::dropout_forward(in, out, n, s, train, dropout_seed(), static_cast<uint64_t>(scalars_.step),
                           static_cast<uint32_t>(l));
    }
  }

  float* grad_ptr(int l, ParamRole role, bool wanted) {
    const int i = layout_.find(l, role);
    return wanted && i >= 0 ? grads_[static_cast<std::size_t>(i)].data() : nullptr;
  }

  // Backward through a batch-norm or dropout node: delta_[l] (d loss / d its
  // output) to delta_[l - 1] when the plan wants dX, and gamma/beta's
  // gradients (updated right away when the updates are fused).
  void other_node_backward(const PlannedBackward& b, int first_layer, int64_t n, bool fused_updates) {
    const int l = b.node;
    const DenseLayerShape& s = layers_[l];
    float* dx = b.input_grad ? delta_[l - 1].data() : nullptr;
    if (s.kind == NodeKind::kDropout) {
      if (dx) {
        cpu::dropout_backward(delta_[l].data(), dx, n, s, b.train, dropout_seed(), static_cast<uint64_t>(scalars_.step),
                              static_cast<uint32_t>(l));
      }
      return;
    }
    const float* x = l == first_layer ? input_.data() : act_[l - 1].data();
    cpu::batch_norm_backward(delta_[l].data(), act_[l].data(), x, n, s, b.train, bn_tensors(l), dx,
                             grad_ptr(l, ParamRole::kGamma, b.kernel_grad), grad_ptr(l, ParamRole::kBeta, b.bias_grad));
    if (fused_updates) {
      if (b.kernel_grad) update_range(layout_.find(l, ParamRole::kGamma), 0, s.fan_out, 1.0f);
      if (b.bias_grad) update_range(layout_.find(l, ParamRole::kBeta), 0, s.fan_out, 1.0f);
    }
  }

  float* slot_ptr(int index, int slot, int64_t offset) {
    return slot < num_slots_ ? slots_[static_cast<std::size_t>(index)][slot].data() + offset : nullptr;
  }

  void update_range(int index, int64_t begin, int64_t end, float grad_scale) {
    cpu::optimizer_update(optimizer_, scalars_, params_[index].data() + begin, grads_[index].data() + begin,
                          slot_ptr(index, 0, begin), slot_ptr(index, 1, begin), end - begin, grad_scale);
  }

  void update_whole(int index, float grad_scale) {
    const int64_t size = params_[index].size();
    if (team_.size() > 1 && size >= kParallelElements) {
      team_.run([&](int part, int parts) {
        const Range r = split_range(size, part, parts, 16);
        update_range(index, r.begin, r.end, grad_scale);
      });
    } else {
      update_range(index, 0, size, grad_scale);
    }
  }

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
  std::vector<PartTotals> part_totals_;
  EpochTotals totals_;
  cpu::StepRegularizer regularizer_;  // L1/L2 penalties and max-norm (none unless set)
  ThreadTeam team_;
};

void CpuBackend::train_step(const DeviceDataset& data, int64_t begin, int64_t n, int first_layer) {
  require_built();
  const CpuDataset& d = as_cpu(data);
  check_input_cols(d, first_layer, "train_step");
  if (n <= 0 || n > max_batch_ || begin < 0 || begin + n > d.rows()) {
    throw Error("cpu backend: train_step on rows [" + std::to_string(begin) + ", " + std::to_string(begin + n) +
                ") of " + std::to_string(d.rows()) + " (max batch " + std::to_string(max_batch_) + ")");
  }
  const int num_layers = static_cast<int>(layers_.size());
  const int64_t cols = d.cols();

  // 1. Gather the batch's rows and labels once.
  const uint32_t* order = d.order.data() + begin;
  for (int64_t i = 0; i < n; ++i) labels_[i] = d.labels[order[i]];
  if (team_.size() > 1 && n * cols >= kParallelElements) {
    team_.run([&](int part, int parts) {
      const Range r = split_range(n, part, parts);
      cpu::gather_rows(d.features.data(), order + r.begin, input_.data() + r.begin * cols, r.size(), cols);
    });
  } else {
    cpu::gather_rows(d.features.data(), order, input_.data(), n, cols);
  }

  // 2. Forward and loss; dlogits land in delta_ of the last layer.
  const StepPlan& plan = step_plan(first_layer);
  forward_loss(input_.data(), labels_.data(), first_layer, n, delta_[num_layers - 1].data(), &totals_.loss_sum,
               &totals_.correct, &plan);
  totals_.samples += n;
  // The batch's loss includes the penalty of the weights it ran with (TF's
  // total loss: cross-entropy + get_regularization_loss()).
  if (regularizer_.penalizes()) totals_.loss_sum += static_cast<double>(n) * regularizer_.penalty(flat_params_.data(), team_);

  // 3. Backward as the step plan says: down to the lowest layer with a
  // trainable parameter, each gradient only where it is needed.
  const int lowest = plan.lowest_trainable;
  const bool clip_norm = plan.global_norm;
  for (const PlannedBackward& b : plan.backward) {
    const int l = b.node;
    const DenseLayerShape& s = layers_[l];
    if (b.kind != NodeKind::kDense) {
      other_node_backward(b, first_layer, n, plan.fused_updates);
      continue;
    }
    activation_backward(l, n);
    const float* x = l == first_layer ? input_.data() : act_[l - 1].data();
    const bool kernel_grad = b.kernel_grad;
    const bool input_grad = b.input_grad;
    const bool fused_update = kernel_grad && plan.fused_updates;
    float* w = params_[layout_.kernel(l)].data();
    float* dw = grads_[layout_.kernel(l)].data();
    // The thread that owns kernel rows [m0, m1) computes dW rows [m0, m1) and
    // input-gradient columns [m0, m1) (which read only those rows of W), then
    // updates those rows.
    auto job = [&](int part, int parts) {
      const Range m = split_range(s.fan_in, part, parts, 16);
      if (kernel_grad) {
        gemm(true, false, m.size(), s.fan_out, n, x + m.begin, s.fan_in, delta_[l].data(), s.fan_out,
             dw + m.begin * s.fan_out, s.fan_out);
        regularizer_.add_gradient(layout_.kernel(l), flat_params_.data(), flat_grads_.data(), m.begin * s.fan_out,
                                  m.end * s.fan_out);
      }
      if (input_grad) {
        gemm(false, true, n, m.size(), s.fan_out, delta_[l].data(), s.fan_out, w + m.begin * s.fan_out,
             s.fan_out, delta_[l - 1].data() + m.begin, s.fan_in);
      }
      if (fused_update) update_range(layout_.kernel(l), m.begin * s.fan_out, m.end * s.fan_out, 1.0f);
    };
    const double flops = 2.0 * n * s.fan_in * s.fan_out * ((kernel_grad ? 1 : 0) + (input_grad ? 1 : 0));
    if (team_.size() > 1 && flops >= kParallelGemmFlops) {
      team_.run(job);
    } else {
      job(0, 1);
    }
    if (b.bias_grad) regularizer_.add_gradient(layout_.bias(l), flat_params_.data(), flat_grads_.data(), 0, s.fan_out);
    if (b.bias_grad && plan.fused_updates) update_range(layout_.bias(l), 0, s.fan_out, 1.0f);
  }

  // 4. The exchange point: every gradient exists (one device: nothing to do).
  exchange_gradients();

  // 5. Clipping by global norm: every gradient first, then the update.
  if (clip_norm && lowest >= 0) {
    double squares = 0.0;
    // Optimized parameters of the nodes the step trains, in index order.
    auto trained = [&](int i) { return trainable_[i] && role_optimized(layout_[i].role) && layout_[i].node >= lowest; };
    for (int i = 0; i < num_params(); ++i) {
      if (trained(i)) squares += cpu::sum_of_squares(grads_[i].data(), grads_[i].size());
    }
    const double norm = std::sqrt(squares);
    const float scale = math::global_norm_scale(optimizer_.clip_norm, norm);
    for (int i = 0; i < num_params(); ++i) {
      if (trained(i)) update_whole(i, scale);
    }
  }

  // 5. Max-norm of the kernels just updated (tf.clip_by_norm after the train op).
  if (regularizer_.clips_by_norm()) {
    for (const PlannedBackward& b : plan.backward) {
      // A batch norm's kernel_grad is its dgamma: max-norm is for dense kernels.
      if (b.kind == NodeKind::kDense && b.kernel_grad) {
        regularizer_.clip_kernel(layout_.kernel(b.node), flat_params_.data(), team_);
      }
    }
  }

  scalars_.step += 1;
  if (optimizer_.kind == OptimizerKind::kAdam) {
    math::advance_beta_powers(math::optimizer_hyper(optimizer_), scalars_.beta1_power,
                              scalars_.beta2_power);
  }
}

EpochTotals CpuBackend::evaluate(const DeviceDataset& data, int first_layer) {
  require_built();
  const CpuDataset& d = as_cpu(data);
  check_input_cols(d, first_layer, "evaluate");
  EpochTotals totals;
  for (int64_t start = 0; start < d.rows(); start += max_batch_) {
    const int64_t n = std::min(max_batch_, d.rows() - start);
    forward_loss(d.features.data() + start * d.cols(), d.labels.data() + start, first_layer, n, nullptr,
                 &totals.loss_sum, &totals.correct);
    totals.samples += n;
  }
  return totals;
}

}  // namespace

int max_cpu_threads() { return ThreadTeam::max_threads(); }

std::unique_ptr<Backend> make_cpu_backend(int threads) {
  return std::make_unique<CpuBackend>(threads > 0 ? threads : default_threads());
}

}  // namespace graft
