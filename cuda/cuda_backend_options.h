#pragma once
// Knobs and counters of the CUDA backend beyond the Backend interface, for
// the GPU tests and the benchmark. The CLI uses make_cuda_backend(device)
// from cuda/cuda_backend.h, which reads the same settings from the
// environment:
//   GRAFT_CUDA_GRAPHS=0   run every training step eagerly (no CUDA graphs),
//                         e.g. under compute-sanitizer
//   GRAFT_CUDA_TF32=1     let cuBLAS use TF32 tensor cores for the FP32
//                         GEMMs (faster, ~1e-3 relative error; off by
//                         default because CPU/GPU parity needs full FP32)
#include <cstdint>
#include <memory>
#include <string>

#include "host/backend.h"

namespace graft {

struct CudaBackendOptions {
  bool use_graphs = true;
  bool allow_tf32 = false;
  // Defaults overridden by GRAFT_CUDA_GRAPHS and GRAFT_CUDA_TF32.
  static CudaBackendOptions from_env();
};

struct CudaBackendStats {
  int64_t eager_steps = 0;     // train_step calls run without a graph
  int64_t graph_captures = 0;  // graphs captured and instantiated
  int64_t graph_launches = 0;  // train_step calls run by replaying a graph
  std::string graph_error;     // why graphs were switched off, when they were
};

std::unique_ptr<Backend> make_cuda_backend(const CudaBackendOptions& options, int device = 0);

// Counters of a backend made by make_cuda_backend; throws graft::Error for
// any other backend.
CudaBackendStats cuda_backend_stats(const Backend& backend);

}  // namespace graft
