#include "host/train/memory_check.h"

#include <cstdio>
#include <string>

#include "checkpoint/error.h"

namespace graft {
namespace {

std::string gigabytes(long double bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1Lf GB", bytes / 1e9L);
  return buf;
}

std::string count(long double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0Lf", v);
  return buf;
}

}  // namespace

TrainingMemory estimate_training_memory(const std::vector<DenseLayerShape>& layers, int slots, int64_t max_batch) {
  // long double: widths from flags may multiply past int64.
  TrainingMemory m;
  long double row_floats = 0;
  for (const DenseLayerShape& l : layers) {
    m.parameters += static_cast<long double>(l.fan_in) * static_cast<long double>(l.fan_out) + l.fan_out;
    row_floats += static_cast<long double>(l.fan_in) + 2.0L * static_cast<long double>(l.fan_out);
  }
  m.parameter_bytes = m.parameters * 4.0L * (2 + slots);
  m.activation_bytes = row_floats * 4.0L * static_cast<long double>(max_batch < 0 ? 0 : max_batch);
  return m;
}

void check_training_memory(const std::vector<DenseLayerShape>& layers, int slots, int64_t max_batch,
                           const BackendMemory& memory) {
  if (memory.available_bytes <= 0) return;  // unknown
  const TrainingMemory m = estimate_training_memory(layers, slots, max_batch);
  const long double available = static_cast<long double>(memory.available_bytes);
  if (m.parameter_bytes + m.activation_bytes > available) {
    throw Error("training needs about " + gigabytes(m.parameter_bytes + m.activation_bytes) + ": " +
                count(m.parameters) + " parameters with gradients and " + std::to_string(slots) + " optimizer slot" +
                (slots == 1 ? "" : "s") + " " + gigabytes(m.parameter_bytes) + ", batches of up to " +
                std::to_string(max_batch) + " rows (the larger of the training and evaluation batch) " +
                gigabytes(m.activation_bytes) + " of activations; more than the " + gigabytes(available) + " of " +
                memory.kind + " available");
  }
}

}  // namespace graft
