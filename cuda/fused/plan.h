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

// Rows of the per-row-tile loss buffers a batch of up to max_batch rows needs.
inline int64_t tile_buffer_size(int64_t max_batch) {
  return (max_batch + kTileRows - 1) / kTileRows;
}

// "" when the fused step runs this configuration, else why not.
inline std::string unsupported_reason(const std::vector<DenseLayerShape>& layers, int first_layer,
                                      const OptimizerConfig& optimizer, int64_t max_batch) {
  if (optimizer.clip_norm > 0.0f) {
    return "clipping by global norm needs every gradient before the first update";
  }
  if (first_layer < 0 || first_layer >= static_cast<int>(layers.size())) return "no layers to train";
  if (static_cast<int>(layers.size()) - first_layer > kMaxLayers) {
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

// The phase schedule of program.h for local layers 0..L-1, lowest = the
// lowest local layer with a trainable parameter (-1: none).
inline void plan_phases(Program& p, int lowest) {
  const int L = p.num_layers;
  p.num_phases = 0;
  auto add = [&p](PhaseKind kind, int layer, int u0, int u1) {
    Phase& ph = p.phases[p.num_phases++];
    ph.kind = kind;
    ph.layer = layer;
    ph.update[0] = u0;
    ph.update[1] = u1;
  };
  for (int l = 0; l + 1 < L; ++l) add(PhaseKind::kForward, l, -1, -1);
  add(PhaseKind::kForwardLogits, L - 1, -1, -1);
  if (lowest < 0) {
    add(PhaseKind::kUpdates, -1, -1, -1);  // the step still counts
    return;
  }
  for (int l = L - 1; l > lowest; --l) add(PhaseKind::kInputGrad, l, l + 1 < L ? l + 1 : -1, -1);
  // update[0] is filled first (update_item relies on it).
  if (lowest + 1 < L) {
    add(PhaseKind::kUpdates, -1, lowest + 1, lowest);
  } else {
    add(PhaseKind::kUpdates, -1, lowest, -1);
  }
}

// The Program for global layers [first_layer, layers.size()), everything but
// the batch (set_batch). `memory` and `trainable` are indexed by global
// layer and parameter (2l kernel, 2l+1 bias).
inline Program make_program(const std::vector<DenseLayerShape>& layers, int first_layer,
                            const std::vector<bool>& trainable, const OptimizerConfig& optimizer,
                            const std::vector<LayerMemory>& memory, double* tile_loss,
                            long long* tile_hits, DeviceState* state) {
  Program p;
  p.num_layers = static_cast<int>(layers.size()) - first_layer;
  int lowest = -1;
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
    l.train_w = trainable[2 * g];
    l.train_b = trainable[2 * g + 1];
    if (lowest < 0 && (l.train_w || l.train_b)) lowest = i;
  }
  plan_phases(p, lowest);
  Hyper& h = p.hyper;
  h.kind = optimizer.kind;
  h.lr = optimizer.learning_rate;
  h.momentum = optimizer.momentum;
  h.rho = optimizer.rho;
  h.rms_momentum = optimizer.rmsprop_momentum;
  h.rms_epsilon = optimizer.rmsprop_epsilon;
  h.beta1 = optimizer.beta1;
  h.beta2 = optimizer.beta2;
  h.adam_epsilon = optimizer.adam_epsilon;
  h.clip_value = optimizer.clip_value;
  p.tile_loss = tile_loss;
  p.tile_hits = tile_hits;
  p.state = state;
  return p;
}

inline void set_batch(Program& p, const float* features, const int32_t* labels,
                      const uint32_t* order, int64_t cols, int64_t begin, int64_t n) {
  p.batch.features = features;
  p.batch.labels = labels;
  p.batch.order = order;
  p.batch.cols = static_cast<int>(cols);
  p.batch.begin = begin;
  p.batch.n = static_cast<int>(n);
}

}  // namespace graft::cuda::fused
