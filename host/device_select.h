#pragma once
// Choosing a backend for --device cpu|cuda|auto.
#include <memory>
#include <string>

#include "host/backend.h"

namespace graft {

struct SelectedBackend {
  std::unique_ptr<Backend> backend;
  // What was chosen, in one short line, e.g. "device: auto -> cpu (no usable
  // CUDA device; graft --version says why) [cpu (OpenBLAS, 2 threads)]".
  // Printed by the CLI.
  std::string note;
};

// device: "cpu", "cuda" (an error when no device is usable) or "auto" (the
// GPU when one is usable, else the CPU, saying so). cpu_threads <= 0 leaves
// OpenBLAS's default.
SelectedBackend select_backend(const std::string& device, int cpu_threads = 0);

}  // namespace graft
