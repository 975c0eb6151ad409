#pragma once
// Choosing a backend for --device cpu|cuda|auto.
#include <memory>
#include <optional>
#include <string>

#include "cuda/cuda_backend_options.h"
#include "host/backend.h"

namespace graft {

struct SelectedBackend {
  std::unique_ptr<Backend> backend;
  // What was chosen, in one short line, e.g. "device: auto -> cpu (no usable
  // CUDA device; graft --version says why) [cpu (OpenBLAS, 2 threads)]".
  // Printed by the CLI where the choice matters (train).
  std::string note;
  // The backend alone, "device: cpu (OpenBLAS, 2 threads)": what commands
  // that only run a model (eval) print, without the auto fallback's reason.
  std::string short_note;
  // The CUDA backend was chosen (per-row predictions then run on it:
  // host/predict/predictions.h; on the CPU they take the reference path).
  bool gpu = false;
};

// device: "cpu", "cuda" (an error when no device is usable) or "auto" (the
// GPU when one is usable, else the CPU, saying so). cpu_threads <= 0 leaves
// OpenBLAS's default. cuda: the CUDA backend's settings; unset, they come
// from the GRAFT_CUDA_* environment (cuda/cuda_backend_options.h).
SelectedBackend select_backend(const std::string& device, int cpu_threads = 0,
                               const std::optional<CudaBackendOptions>& cuda = std::nullopt);

}  // namespace graft
