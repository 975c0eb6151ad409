#pragma once
// Host side of the fused step (cuda/fused/program.h): whether a
// configuration can use it, and the Program for a model, its memory and the
// trainable set. Used by the CUDA backend and by the CPU emulator in tests/.
#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "cuda/fused/program.h"
#include "host/backend.h"
#include "host/step_plan.h"

namespace graft::cuda::fused {

// Where one layer's tensors live (device memory for the backend, host memory
// for the emulator). Slots are null when the optimizer has fewer.
struct LayerMemory {
  float* w = nullptr;
  float* b = nullptr;
  float* w_slot[2] = {nullptr, nullptr};
  float* b_slot[2] = {nullptr, nullptr};
  float* out = nullptr;  // [max_batch, fan_out]
  float* dz = nullptr;   // [max_batch, fan_out]
};

// Entries of the per-row-tile loss buffers a batch of up to max_batch rows
// needs (row-local tasks can be a single row).
inline int64_t tile_buffer_size(int64_t max_batch) { return max_batch; }

enum class Schedule { kAuto, kPerLayer, kRowLocal };

// kAuto takes the row-local schedule when every layer above the first is
// narrow enough for one block to run a few rows through all of them: at
// most this many multiply-adds per row (the reference network: 23 000).
constexpr int64_t kRowLocalMaxMacsPerRow = int64_t{1} << 18;

// "auto", "per-layer", "row-local" (GRAFT_CUDA_FUSED_SCHEDULE); false for
// anything else.
inline bool parse_schedule(const std::string& s, Schedule* out) {
  if (s == "auto") *out = Schedule::kAuto;
  else if (s == "per-layer") *out = Schedule::kPerLayer;
  else if (s == "row-local") *out = Schedule::kRowLocal;
  else return false;
  return true;
}

// "" when the fused step runs `plan` (host/step_plan.h) on these layers,
// else why not. The fused program applies each update right after its
// gradient inside the kernel, so it runs only plans with fused updates.
inline std::string unsupported_reason(const std::vector<DenseLayerShape>& layers, const StepPlan& plan,
                                      int64_t max_batch) {
  if (!plan.fused_updates) {
    return plan.global_norm ? "clipping by global norm needs every gradient before the first update"
                            : "the step plan applies its updates only after every gradient";
  }
  if (plan.num_nodes != static_cast<int>(layers.size())) return "the step plan is for another model";
  for (const auto& l : layers) {
    if (l.kind != NodeKind::kDense) {
      return std::string("the fused step runs dense layers only (this model has a ") + node_kind_name(l.kind) +
             " node)";
    }
  }
  if (plan.num_nodes - plan.first_node > kMaxLayers) {
    return "more than " + std::to_string(kMaxLayers) + " layers";
  }
  if (layers.back().fan_out > kMaxClasses) {
    return "more than " + std::to_string(kMaxClasses) + " classes";
  }
  for (const auto& l : layers) {
    if (l.fan_in > INT_MAX / 2 || l.fan_out > INT_MAX / 2) return "a layer wider than 2^30";
  }
  if (max_batch > INT_MAX / 2) return "batches over 2^30 rows";
  return "";
}

// "" when the fused program can run with these regularizers (none), else
// which one it lacks: the step then takes the graph path, which has them.
inline std::string regularization_unsupported_reason(const std::vector<ParamRegularizer>& per_param) {
  bool l1 = false, l2 = false, max_norm = false;
  for (const ParamRegularizer& r : per_param) {
    l1 = l1 || r.l1 > 0;
    l2 = l2 || r.l2 > 0;
    max_norm = max_norm || r.max_norm > 0;
  }
  if (l1 && l2) return "L1 and L2 regularization are not in the fused program";
  if (l1) return "L1 regularization is not in the fused program";
  if (l2) return "L2 regularization is not in the fused program";
  if (max_norm) return "max-norm is not in the fused program";
  return "";
}

// The same for a configuration not yet planned (every parameter trainable).
inline std::string unsupported_reason(const std::vector<DenseLayerShape>& layers, int first_layer,
                                      const OptimizerConfig& optimizer, int64_t max_batch) {
  if (optimizer.clip_norm > 0.0f) {
    return "clipping by global norm needs every gradient before the first update";
  }
  if (first_layer < 0 || first_layer >= static_cast<int>(layers.size())) return "no layers to train";
  const ParameterLayout layout = parameter_layout(layers);
  const StepPlan plan = plan_step(layout, std::vector<bool>(static_cast<std::size_t>(layout.size()), true),
                                  first_layer, false);
  return unsupported_reason(layers, plan, max_batch);
}

// The phases of program.h for p's layers (num_layers and fan sizes set),
// with lowest = the lowest local layer with a trainable parameter (-1: none).
inline void plan_phases(Program& p, int lowest, Schedule schedule = Schedule::kAuto) {
  const int L = p.num_layers;
  p.lowest = lowest;
  p.num_phases = 0;
  auto add = [&p](PhaseKind kind, int layer, int first, int last) {
    Phase& ph = p.phases[p.num_phases++];
    ph.kind = kind;
    ph.layer = layer;
    ph.update_first = first;
    ph.update_last = last;
  };
  int64_t macs_above_first = 0;
  for (int l = 1; l < L; ++l) macs_above_first += int64_t{p.layers[l].fan_in} * p.layers[l].fan_out;
  p.row_local = L >= 2 && (schedule == Schedule::kRowLocal ||
                           (schedule == Schedule::kAuto && macs_above_first <= kRowLocalMaxMacsPerRow));
  if (p.row_local) {
    add(PhaseKind::kForward, 0, -1, -2);
    add(PhaseKind::kRowLocal, -1, -1, -2);
    if (lowest < 0) {
      add(PhaseKind::kUpdates, -1, -1, -2);  // the step still counts
    } else {
      add(PhaseKind::kUpdates, -1, lowest, L - 1);
    }
    return;
  }
  for (int l = 0; l + 1 < L; ++l) add(PhaseKind::kForward, l, -1, -2);
  add(PhaseKind::kForwardLogits, L - 1, -1, -2);
  if (lowest < 0) {
    add(PhaseKind::kUpdates, -1, -1, -2);
    return;
  }
  for (int l = L - 1; l > lowest; --l) {
    if (l + 1 < L) {
      add(PhaseKind::kInputGrad, l, l + 1, l + 1);
    } else {
      add(PhaseKind::kInputGrad, l, -1, -2);  // W_{L-1} is being read
    }
  }
  add(PhaseKind::kUpdates, -1, lowest, lowest + 1 < L ? lowest + 1 : lowest);
}

// The Program that walks `plan` over global layers [plan.first_node,
// layers.size()), everything but the batch (set_batch): which gradients each
// layer computes and where the updates begin come from the plan, the only
// place that decides them (as for the CPU backend and the graph path).
// `memory` is indexed by global layer.
inline Program make_program(const std::vector<DenseLayerShape>& layers, const StepPlan& plan,
                            const OptimizerConfig& optimizer, const std::vector<LayerMemory>& memory,
                            double* tile_loss, long long* tile_hits, DeviceState* state,
                            Schedule schedule = Schedule::kAuto) {
  Program p;
  const int first_layer = plan.first_node;
  p.num_layers = static_cast<int>(layers.size()) - first_layer;
  for (int i = 0; i < p.num_layers; ++i) {
    const int g = first_layer + i;
    const DenseLayerShape& s = layers[g];
    const LayerMemory& m = memory[g];
    Layer& l = p.layers[i];
    l.w = m.w;
    l.b = m.b;
    l.w_slot0 = m.w_slot[0];
    l.w_slot1 = m.w_slot[1];
    l.b_slot0 = m.b_slot[0];
    l.b_slot1 = m.b_slot[1];
    l.out = m.out;
    l.dz = m.dz;
    l.fan_in = static_cast<int>(s.fan_in);
    l.fan_out = static_cast<int>(s.fan_out);
    l.act = s.activation.kind;
    l.alpha = s.activation.alpha;
  }
  for (const PlannedBackward& b : plan.backward) {
    Layer& l = p.layers[b.node - first_layer];
    l.train_w = b.kernel_grad;
    l.train_b = b.bias_grad;
  }
  plan_phases(p, plan.trains_anything() ? plan.lowest_trainable - first_layer : -1, schedule);
  p.hyper = math::optimizer_hyper(optimizer);
  p.tile_loss = tile_loss;
  p.tile_hits = tile_hits;
  p.state = state;
  return p;
}

// The same, planning the step itself: `trainable` is indexed by parameter,
// numbered by parameter_layout (host/model/parameter_layout.h).
inline Program make_program(const std::vector<DenseLayerShape>& layers, int first_layer,
                            const std::vector<bool>& trainable, const OptimizerConfig& optimizer,
                            const std::vector<LayerMemory>& memory, double* tile_loss,
                            long long* tile_hits, DeviceState* state,
                            Schedule schedule = Schedule::kAuto) {
  const StepPlan plan = plan_step(parameter_layout(layers), trainable, first_layer, optimizer.clip_norm > 0.0f);
  return make_program(layers, plan, optimizer, memory, tile_loss, tile_hits, state, schedule);
}

inline void set_batch(Program& p, const float* features, const int32_t* labels,
                      const uint32_t* order, int64_t cols, int64_t begin, int64_t n) {
  p.batch.features = features;
  p.batch.labels = labels;
  p.batch.order = order;
  p.batch.cols = static_cast<int>(cols);
  p.batch.begin = begin;
  p.batch.n = static_cast<int>(n);
  const int rows = static_cast<int>((n + kRowLocalTasks - 1) / kRowLocalTasks);
  p.batch.local_rows = rows < kTileRows ? rows : kTileRows;
  p.batch.loss_tiles = p.row_local ? ceil_div(p.batch.n, p.batch.local_rows)
                                   : ceil_div(p.batch.n, kTileRows);
}

}  // namespace graft::cuda::fused
