// The cooperative kernel that runs a whole training step (the phases of
// cuda/fused/program.h): grid.sync() between phases, __syncthreads()
// between the substeps of a block task. The loop below is mirrored by the
// CPU emulator in tests/fused/emulator.cc; keep the two in step.
#include "cuda/fused_step.h"

#include <cooperative_groups.h>

#include <algorithm>
#include <string>

#include "cuda/cuda_check.h"

namespace graft::cuda {
namespace {

namespace cg = cooperative_groups;
using namespace fused;

__global__ void __launch_bounds__(kThreads) fused_step_kernel(const __grid_constant__ Program p) {
  __shared__ __align__(16) float smem[kSmemFloats];
  cg::grid_group grid = cg::this_grid();
  const StepScalars scalars = read_step_scalars(p);  // before the first barrier
  for (int ph = 0; ph < p.num_phases; ++ph) {
    const Phase& phase = p.phases[ph];
    const int tasks = phase_tasks(p, phase);
    const int substeps = phase_substeps(p, phase);
    for (int task = blockIdx.x; task < tasks; task += gridDim.x) {
      for (int sub = 0; sub < substeps; ++sub) {
        task_substep(p, phase, task, sub, threadIdx.x, smem);
        __syncthreads();
      }
    }
    const int64_t items = phase_items(p, phase);
    for (int64_t e = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; e < items;
         e += static_cast<int64_t>(gridDim.x) * kThreads) {
      update_item(p, phase, e, scalars);
    }
    if (ph + 1 < p.num_phases) {
      grid.sync();
    } else if (blockIdx.x == 0 && threadIdx.x == 0) {
      finish_step(p, scalars);
    }
  }
}

}  // namespace

int fused_step_grid(int device, int requested, std::string* why) {
  int cooperative = 0, sms = 0, per_sm = 0;
  GRAFT_CUDA_CHECK(cudaDeviceGetAttribute(&cooperative, cudaDevAttrCooperativeLaunch, device));
  if (cooperative == 0) {
    if (why) *why = "the device does not support cooperative launches";
    return 0;
  }
  GRAFT_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  GRAFT_CUDA_CHECK(
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, fused_step_kernel, kThreads, 0));
  if (per_sm <= 0) {
    if (why) *why = "the fused step's kernel does not fit on an SM";
    return 0;
  }
  // One block per SM by default: fewer blocks make cheaper grid barriers.
  const int grid = requested > 0 ? requested : sms;
  return std::min(grid, sms * per_sm);
}

void fused_step_launch(const Program& program, int grid, cudaStream_t stream) {
  void* args[] = {const_cast<Program*>(&program)};
  GRAFT_CUDA_CHECK(cudaLaunchCooperativeKernel(reinterpret_cast<const void*>(&fused_step_kernel),
                                               dim3(static_cast<unsigned>(grid)), dim3(kThreads),
                                               args, 0, stream));
}

}  // namespace graft::cuda
