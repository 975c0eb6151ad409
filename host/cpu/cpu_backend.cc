// The CPU backend's memory and I/O: construction, build() (every buffer
// sized once), parameter/slot/scalar reads and writes, upload, shuffle, the
// argument checks, and the factories. Its class: cpu_backend_internal.h.
#include <algorithm>
#include <array>
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
#include "host/cpu/cpu_backend_internal.h"
#include "host/cpu/cpu_dataset.h"
#include "host/cpu/gemm_engine.h"
#include "host/cpu/node_ops.h"
#include "host/cpu/regularization.h"
#include "host/cpu/thread_team.h"
#include "host/data/shuffle_key.h"
#include "host/step_plan.h"

namespace graft::cpu_backend_detail {

CpuBackend::CpuBackend(int threads) : team_(threads) {
  // The team provides the parallelism; OpenBLAS's own threads would
  // compete with it (and cost a wake-up per small GEMM).
  cpu::set_blas_threads(1);
  part_totals_.resize(static_cast<std::size_t>(team_.size()));
}

std::string CpuBackend::description() const {
  return "cpu (" + cpu::cpu_gemm_summary() + ", " + std::to_string(team_.size()) +
         (team_.size() == 1 ? " thread)" : " threads)");
}

void CpuBackend::build(const std::vector<DenseLayerShape>& layers, const OptimizerConfig& optimizer,
                       int64_t max_batch) {
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
  forward_partial_.clear();
  for (int t = 1; t < team_.size(); ++t) forward_partial_.emplace_back(std::min(max_batch, kRowSplitRows) * widest_out);
  block_totals_.assign(static_cast<std::size_t>(row_block_count(max_batch)), PartTotals{});
  totals_ = EpochTotals{};
  regularizer_.configure(layout_, layers_, {});
  built_ = true;
}

ParameterLayout CpuBackend::allocated_layout(ParamBuffer buffer) const {
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

void CpuBackend::write_param(int index, const float* src) {
  const TensorView& p = param(index);
  std::copy(src, src + p.size(), p.data());
}

void CpuBackend::read_param(int index, float* dst) {
  const TensorView& p = param(index);
  std::copy(p.data(), p.data() + p.size(), dst);
}

void CpuBackend::set_trainable(int index, bool trainable) {
  param(index);
  trainable_[static_cast<std::size_t>(index)] = trainable;
  plans_.clear();
}

bool CpuBackend::trainable(int index) const {
  check_index(index);
  return trainable_[static_cast<std::size_t>(index)];
}

void CpuBackend::write_slot(int index, int slot, const float* src) {
  const TensorView& s = slot_buffer(index, slot);
  std::copy(src, src + s.size(), s.data());
}

void CpuBackend::read_slot(int index, int slot, float* dst) {
  const TensorView& s = slot_buffer(index, slot);
  std::copy(s.data(), s.data() + s.size(), dst);
}

void CpuBackend::set_learning_rate(float learning_rate) {
  require_built();
  optimizer_.learning_rate = learning_rate;  // every update reads it (host/math/optimizer_math.h)
}

void CpuBackend::set_regularization(const std::vector<ParamRegularizer>& per_param) {
  require_built();
  regularizer_.configure(layout_, layers_, per_param);  // host/cpu/regularization.h
}

std::unique_ptr<DeviceDataset> CpuBackend::upload(const float* features, const int32_t* labels, int64_t rows,
                                                  int64_t cols) {
  if (rows < 0 || cols <= 0) throw Error("cpu backend: cannot upload a data set of shape [" +
                                         std::to_string(rows) + ", " + std::to_string(cols) + "]");
  auto data = std::make_unique<CpuDataset>(rows, cols);
  std::copy(features, features + rows * cols, data->features.data());
  std::copy(labels, labels + rows, data->labels.begin());
  return data;
}

void CpuBackend::shuffle(DeviceDataset& data, uint64_t seed, uint64_t epoch) {
  CpuDataset* d = &cpu::as_cpu(data);
  std::vector<uint64_t> keys(static_cast<std::size_t>(d->rows()));
  for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = shuffle_key(seed, epoch, i);
  std::iota(d->order.begin(), d->order.end(), 0u);
  std::stable_sort(d->order.begin(), d->order.end(),
                   [&](uint32_t a, uint32_t b) { return keys[a] < keys[b]; });
}

EpochTotals CpuBackend::take_train_totals() {
  const EpochTotals out = totals_;
  totals_ = EpochTotals{};
  return out;
}

void CpuBackend::check_index(int index) const {
  if (index < 0 || index >= static_cast<int>(params_.size())) {
    throw Error("cpu backend: no parameter " + std::to_string(index) + " (the model has " +
                std::to_string(params_.size()) + ")");
  }
}

const TensorView& CpuBackend::param(int index) {
  check_index(index);
  return params_[static_cast<std::size_t>(index)];
}

const TensorView& CpuBackend::slot_buffer(int index, int slot) {
  check_index(index);
  if (slot < 0 || slot >= num_slots_) {
    throw Error("cpu backend: optimizer " + optimizer_name(optimizer_.kind) + " has no slot " +
                std::to_string(slot));
  }
  return slots_[static_cast<std::size_t>(index)][static_cast<std::size_t>(slot)];
}

// Computed once per (first layer, trainable set).
const StepPlan& CpuBackend::step_plan(int first_layer) {
  auto it = plans_.find(first_layer);
  if (it == plans_.end()) {
    it = plans_.emplace(first_layer, plan_step(layout_, trainable_, first_layer, optimizer_.clip_norm > 0.0f)).first;
  }
  return it->second;
}

void CpuBackend::check_input_cols(const CpuDataset& data, int first_layer, const char* what) const {
  if (first_layer < 0 || first_layer >= static_cast<int>(layers_.size())) {
    throw Error(std::string("cpu backend: ") + what + ": no layer " + std::to_string(first_layer));
  }
  if (data.cols() != layers_[first_layer].fan_in) {
    throw Error(std::string("cpu backend: ") + what + ": the data has " + std::to_string(data.cols()) +
                " columns but layer " + std::to_string(first_layer) + " takes " +
                std::to_string(layers_[first_layer].fan_in) + " inputs");
  }
}

cpu::BatchNormTensors CpuBackend::bn_tensors(int l) {
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

}  // namespace graft::cpu_backend_detail

namespace graft {
namespace {

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

}  // namespace

int max_cpu_threads() { return cpu::ThreadTeam::max_threads(); }

std::unique_ptr<Backend> make_cpu_backend(int threads) {
  return std::make_unique<cpu_backend_detail::CpuBackend>(threads > 0 ? threads : default_threads());
}

}  // namespace graft
