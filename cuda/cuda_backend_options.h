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
//   GRAFT_CUDA_FUSED=1    run each training step of up to kFusedMaxBatch rows
//                         as one cooperative kernel (cuda/fused_step.h)
//                         instead of the graph of cuBLAS and fused kernels;
//                         off by default until measured on a GPU
//                         (docs/cuda-backend.md, "Fused step")
//   GRAFT_CUDA_FUSED_BLOCKS=N   the fused step's grid size (default: one
//                         block per SM), for tuning
// from_env throws graft::Error, naming the variable, for a value it cannot
// use (a schedule it does not know, a block count that is not a positive
// number).
//   GRAFT_CUDA_FUSED_SCHEDULE=auto|row-local|per-layer   the fused step's
//                         phase schedule (cuda/fused/program.h; default auto)
//   GRAFT_CUDA_BATCH_NORM=auto|cudnn|fused   batch norm's implementation on
//                         the graph path (cuda/batch_norm.h): auto (default:
//                         cuDNN where the build links it and epsilon allows,
//                         else graft's own fused kernels), cuDNN (a build
//                         without cuDNN then refuses batch norm nodes), or
//                         graft's fused kernels
#include <cstdint>
#include <memory>
#include <string>

#include "host/backend.h"

namespace graft {

struct CudaBackendOptions {
  bool use_graphs = true;
  bool allow_tf32 = false;
  bool fused_step = false;
  std::string fused_schedule = "auto";  // cuda/fused/plan.h parse_schedule
  int fused_blocks = 0;                  // the fused step's grid; 0: one block per SM
  std::string batch_norm = "auto";       // cuda/node_walk.h parse_batch_norm_path: "auto", "cudnn" or "fused"
  // Defaults overridden by GRAFT_CUDA_GRAPHS, GRAFT_CUDA_TF32 and GRAFT_CUDA_FUSED.
  static CudaBackendOptions from_env();
};

struct CudaBackendStats {
  int64_t eager_steps = 0;     // train_step calls run without a graph
  int64_t graph_captures = 0;  // graphs captured and instantiated
  int64_t graph_launches = 0;  // train_step calls run by replaying a graph
  std::string graph_error;     // why graphs were switched off, when they were
  int64_t fused_steps = 0;     // train_step calls run by the fused kernel
  std::string fused_error;     // why the fused step was not used, when it was asked for
};

// Batches above this many rows take the cuBLAS path even with fused_step:
// the fused kernel's row tiles stop paying off against cuBLAS's GEMMs.
constexpr int64_t kFusedMaxBatch = 256;

std::unique_ptr<Backend> make_cuda_backend(const CudaBackendOptions& options, int device = 0);

// Counters of a backend made by make_cuda_backend; throws graft::Error for
// any other backend.
CudaBackendStats cuda_backend_stats(const Backend& backend);

}  // namespace graft
