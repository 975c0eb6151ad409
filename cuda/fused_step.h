#pragma once
// The fused training step on the GPU: cuda/fused/program.h run by one
// cooperative kernel per step (grid barriers between phases). Opt-in with
// GRAFT_CUDA_FUSED=1 (cuda/cuda_backend_options.h); docs/cuda-backend.md
// says why and what it costs.
#include <cuda_runtime_api.h>

#include <string>

#include "cuda/fused/program.h"

namespace graft::cuda {

// Blocks for the step's cooperative launch on `device`: `requested`, or one
// per SM when it is 0, capped at what can be co-resident. 0 when the device
// cannot run it, with the reason in *why.
int fused_step_grid(int device, int requested, std::string* why);

// Enqueues one step on `stream`. No host synchronisation.
void fused_step_launch(const fused::Program& program, int grid, cudaStream_t stream);

}  // namespace graft::cuda
