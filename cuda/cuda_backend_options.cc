// CudaBackendOptions::from_env: the GRAFT_CUDA_* settings
// (cuda/cuda_backend_options.h documents them).
#include <cerrno>
#include <cstdlib>
#include <string>

#include "checkpoint/error.h"
#include "cuda/cuda_backend_options.h"
#include "cuda/fused/plan.h"
#include "cuda/node_walk.h"

namespace graft {
namespace {

bool env_flag(const char* name, bool fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  const std::string s(v);
  if (s == "0" || s == "false" || s == "off" || s == "no") return false;
  if (s == "1" || s == "true" || s == "on" || s == "yes") return true;
  return fallback;
}

}  // namespace

CudaBackendOptions CudaBackendOptions::from_env() {
  CudaBackendOptions o;
  o.use_graphs = env_flag("GRAFT_CUDA_GRAPHS", o.use_graphs);
  o.allow_tf32 = env_flag("GRAFT_CUDA_TF32", o.allow_tf32);
  o.fused_step = env_flag("GRAFT_CUDA_FUSED", o.fused_step);
  if (const char* v = std::getenv("GRAFT_CUDA_FUSED_SCHEDULE"); v != nullptr && *v != '\0') {
    o.fused_schedule = v;
    cuda::fused::Schedule unused{};
    if (!cuda::fused::parse_schedule(o.fused_schedule, &unused)) {
      throw Error(std::string("GRAFT_CUDA_FUSED_SCHEDULE=") + v +
                  ": expected auto, row-local or per-layer");
    }
  }
  if (const char* v = std::getenv("GRAFT_CUDA_BATCH_NORM"); v != nullptr && *v != '\0') {
    o.batch_norm = v;
    cuda::BatchNormPath unused{};
    if (!cuda::parse_batch_norm_path(o.batch_norm, &unused)) {
      throw Error(std::string("GRAFT_CUDA_BATCH_NORM=") + v + ": expected auto, cudnn or fused");
    }
  }
  if (const char* v = std::getenv("GRAFT_CUDA_FUSED_BLOCKS"); v != nullptr && *v != '\0') {
    char* end = nullptr;
    errno = 0;
    const long blocks = std::strtol(v, &end, 10);
    if (errno != 0 || *end != '\0' || blocks <= 0 || blocks > 1 << 20) {
      throw Error(std::string("GRAFT_CUDA_FUSED_BLOCKS=") + v +
                  ": expected a positive number of blocks");
    }
    o.fused_blocks = static_cast<int>(blocks);
  }
  return o;
}

}  // namespace graft
