#include "tests/fused/emulator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "host/data/shuffle_key.h"

namespace graft::test {

using namespace cuda::fused;

FusedEmulator::FusedEmulator(const std::vector<DenseLayerShape>& layers,
                             const OptimizerConfig& optimizer, int64_t max_batch, Options options)
    : layers_(layers),
      optimizer_(optimizer),
      max_batch_(max_batch),
      options_(options),
      num_slots_(static_cast<int>(optimizer_slot_suffixes(optimizer.kind).size())) {
  const std::string why = unsupported_reason(layers, 0, optimizer, max_batch);
  if (!why.empty()) throw std::invalid_argument("fused step: " + why);
  const std::vector<float> slot_init = optimizer_slot_initial_values(optimizer);
  for (const auto& s : layers_) {
    for (int64_t count : {s.fan_in * s.fan_out, s.fan_out}) {
      params_.emplace_back(count, 0.0f);
      slot0_.emplace_back(num_slots_ >= 1 ? count : 0, num_slots_ >= 1 ? slot_init[0] : 0.0f);
      slot1_.emplace_back(num_slots_ >= 2 ? count : 0, num_slots_ >= 2 ? slot_init[1] : 0.0f);
    }
    out_.emplace_back(max_batch * s.fan_out, 0.0f);
    dz_.emplace_back(max_batch * s.fan_out, 0.0f);
  }
  trainable_.assign(params_.size(), true);
  tile_loss_.assign(tile_buffer_size(max_batch), 0.0);
  tile_hits_.assign(tile_buffer_size(max_batch), 0);
  state_.beta1_power = optimizer.beta1;
  state_.beta2_power = optimizer.beta2;
  state_.learning_rate = optimizer.learning_rate;  // as the CUDA backend's build() does
}

void FusedEmulator::write_param(int index, const float* src) {
  std::copy(src, src + params_.at(index).size(), params_[index].begin());
}
void FusedEmulator::read_param(int index, float* dst) const {
  std::copy(params_.at(index).begin(), params_[index].end(), dst);
}
void FusedEmulator::write_slot(int index, int slot, const float* src) {
  auto& v = (slot == 0 ? slot0_ : slot1_).at(index);
  std::copy(src, src + v.size(), v.begin());
}
void FusedEmulator::read_slot(int index, int slot, float* dst) const {
  const auto& v = (slot == 0 ? slot0_ : slot1_).at(index);
  std::copy(v.begin(), v.end(), dst);
}

OptimizerScalars FusedEmulator::read_scalars() const {
  OptimizerScalars s;
  s.step = state_.step;
  s.beta1_power = state_.beta1_power;
  s.beta2_power = state_.beta2_power;
  return s;
}

void FusedEmulator::upload(const float* features, const int32_t* labels, int64_t rows,
                           int64_t cols) {
  features_.assign(features, features + rows * cols);
  labels_.assign(labels, labels + rows);
  order_.resize(rows);
  std::iota(order_.begin(), order_.end(), 0u);
  rows_ = rows;
  cols_ = cols;
}

void FusedEmulator::shuffle(uint64_t seed, uint64_t epoch) {
  std::vector<uint64_t> keys(rows_);
  for (int64_t i = 0; i < rows_; ++i) keys[i] = shuffle_key(seed, epoch, static_cast<uint64_t>(i));
  std::iota(order_.begin(), order_.end(), 0u);
  std::stable_sort(order_.begin(), order_.end(),
                   [&keys](uint32_t a, uint32_t b) { return keys[a] < keys[b]; });
}

void FusedEmulator::train_step(int64_t begin, int64_t n, int first_layer) {
  if (n <= 0 || n > max_batch_ || begin < 0 || begin + n > rows_) {
    throw std::invalid_argument("fused emulator: bad batch");
  }
  if (cols_ != layers_.at(first_layer).fan_in) {
    throw std::invalid_argument("fused emulator: data columns do not match first_layer");
  }
  std::vector<LayerMemory> memory(layers_.size());
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    LayerMemory& m = memory[l];
    m.w = params_[2 * l].data();
    m.b = params_[2 * l + 1].data();
    if (num_slots_ >= 1) {
      m.w_slot[0] = slot0_[2 * l].data();
      m.b_slot[0] = slot0_[2 * l + 1].data();
    }
    if (num_slots_ >= 2) {
      m.w_slot[1] = slot1_[2 * l].data();
      m.b_slot[1] = slot1_[2 * l + 1].data();
    }
    m.out = out_[l].data();
    m.dz = dz_[l].data();
  }
  Program p = make_program(layers_, first_layer, trainable_, optimizer_, memory, tile_loss_.data(),
                           tile_hits_.data(), &state_, options_.schedule);
  set_batch(p, features_.data(), labels_.data(), order_.data(), cols_, begin, n);
  run(p);
  samples_ += n;
}

EpochTotals FusedEmulator::take_train_totals() {
  EpochTotals t;
  t.loss_sum = state_.train.loss_sum;
  t.correct = state_.train.correct;
  t.samples = samples_;
  state_.train = cuda::Totals{};
  samples_ = 0;
  return t;
}

// The cooperative kernel's loop (cuda/fused_step.cu), sequentially. Shared
// memory is poisoned with NaN before every task, so a substep that reads
// shared memory its task did not write shows up in the results.
void FusedEmulator::run(const Program& p) {
  const StepScalars scalars = read_step_scalars(p);
  std::vector<double> smem_storage((kSmemFloats + 1) / 2);
  float* smem = reinterpret_cast<float*>(smem_storage.data());
  const int grid = options_.blocks;
  auto ordered = [this](int i, int count) { return options_.reversed ? count - 1 - i : i; };
  for (int ph = 0; ph < p.num_phases; ++ph) {
    const Phase& phase = p.phases[ph];
    const int tasks = phase_tasks(p, phase);
    const int substeps = phase_substeps(p, phase);
    const int64_t items = phase_items(p, phase);
    for (int bi = 0; bi < grid; ++bi) {
      const int block = ordered(bi, grid);
      for (int task = block; task < tasks; task += grid) {
        std::fill(smem, smem + kSmemFloats, std::numeric_limits<float>::quiet_NaN());
        for (int sub = 0; sub < substeps; ++sub) {
          for (int ti = 0; ti < kThreads; ++ti) task_substep(p, phase, task, sub, ordered(ti, kThreads), smem);
        }
      }
      for (int ti = 0; ti < kThreads; ++ti) {
        const int tid = ordered(ti, kThreads);
        for (int64_t e = static_cast<int64_t>(block) * kThreads + tid; e < items;
             e += static_cast<int64_t>(grid) * kThreads) {
          update_item(p, phase, e, scalars);
        }
      }
    }
    if (ph == p.num_phases - 1) finish_step(p, scalars);
  }
}

}  // namespace graft::test
