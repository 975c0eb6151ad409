#pragma once
// Checks, before a backend allocates anything, that a model and its batch
// size fit the backend's memory: `--hidden 3000000` or `--batch-size
// 1000000000000` ended in std::bad_alloc (or the OOM killer). The estimate
// counts what every backend keeps: each parameter with its gradient and
// optimizer slots, and per batch row the layers' inputs, outputs and deltas.
#include <cstdint>
#include <vector>

#include "host/backend.h"

namespace graft {

struct TrainingMemory {
  long double parameter_bytes = 0;   // parameters, gradients, slots
  long double activation_bytes = 0;  // max_batch rows of activations and deltas
  long double parameters = 0;
};

TrainingMemory estimate_training_memory(const std::vector<DenseLayerShape>& layers, int slots, int64_t max_batch);

// Throws graft::Error naming the parameter count or the batch size, the
// bytes needed and the bytes available (skipped when the backend does not
// know its memory).
void check_training_memory(const std::vector<DenseLayerShape>& layers, int slots, int64_t max_batch,
                           const BackendMemory& memory);

}  // namespace graft
