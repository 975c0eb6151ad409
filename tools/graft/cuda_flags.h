#pragma once
// The CUDA backend's settings as flags of the commands that run a backend
// (train, eval). Each overrides the GRAFT_CUDA_* variable of the same job
// (cuda/cuda_backend_options.h), which stays the default.
#include <CLI/CLI.hpp>

#include <optional>
#include <string>

#include "cuda/cuda_backend_options.h"

namespace graft::cli {

struct CudaFlags {
  std::string graphs;    // "on" / "off"; empty: GRAFT_CUDA_GRAPHS
  bool tf32 = false;
  bool fused = false;
  std::string fused_schedule;
  std::string batch_norm;  // "cudnn" / "fused"; empty: GRAFT_CUDA_BATCH_NORM
  int fused_blocks = 0;
  CLI::Option* tf32_option = nullptr;
  CLI::Option* fused_option = nullptr;
  CLI::Option* blocks_option = nullptr;
};

void add_cuda_flags(CLI::App& sub, CudaFlags& flags);
// The environment's settings with the given flags applied; nullopt when no
// flag was given (the backend then reads the environment itself, only when
// one is made).
std::optional<CudaBackendOptions> cuda_options(const CudaFlags& flags);

}  // namespace graft::cli
