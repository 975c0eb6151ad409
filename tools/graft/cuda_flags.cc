#include "tools/graft/cuda_flags.h"

namespace graft::cli {

void add_cuda_flags(CLI::App& sub, CudaFlags& f) {
  sub.add_option("--cuda-graphs", f.graphs, "on: replay each training step as a CUDA graph (default); off: run it "
                 "eagerly, e.g. under compute-sanitizer (GRAFT_CUDA_GRAPHS)")
      ->check(CLI::IsMember({"on", "off"}));
  f.tf32_option = sub.add_flag("--cuda-tf32", f.tf32, "Let cuBLAS use TF32 tensor cores for the FP32 GEMMs: faster, "
                               "~1e-3 relative error (GRAFT_CUDA_TF32)");
  f.fused_option = sub.add_flag("--cuda-fused", f.fused, "Run each training step of up to 256 rows as one cooperative "
                                "kernel (opt-in until measured on a GPU; GRAFT_CUDA_FUSED)");
  sub.add_option("--cuda-fused-schedule", f.fused_schedule,
                 "The fused step's phase schedule (GRAFT_CUDA_FUSED_SCHEDULE)")
      ->check(CLI::IsMember({"auto", "row-local", "per-layer"}));
  sub.add_option("--cuda-batch-norm", f.batch_norm,
                 "Batch norm's kernels on the GPU: auto (default: cudnn where this build links it and epsilon "
                 ">= 1e-5, else fused), cudnn, or fused, graft's own (GRAFT_CUDA_BATCH_NORM)")
      ->check(CLI::IsMember({"auto", "cudnn", "fused"}));
  f.blocks_option = sub.add_option("--cuda-fused-blocks", f.fused_blocks,
                                   "The fused step's grid size (default: one block per SM; GRAFT_CUDA_FUSED_BLOCKS)")
                        ->check(CLI::PositiveNumber);
}

std::optional<CudaBackendOptions> cuda_options(const CudaFlags& f) {
  const bool any = !f.graphs.empty() || !f.fused_schedule.empty() || !f.batch_norm.empty() || (f.tf32_option && f.tf32_option->count() > 0) ||
                   (f.fused_option && f.fused_option->count() > 0) || (f.blocks_option && f.blocks_option->count() > 0);
  if (!any) return std::nullopt;
  CudaBackendOptions o = CudaBackendOptions::from_env();
  if (!f.graphs.empty()) o.use_graphs = f.graphs == "on";
  if (f.tf32_option && f.tf32_option->count() > 0) o.allow_tf32 = true;
  if (f.fused_option && f.fused_option->count() > 0) o.fused_step = true;
  if (!f.fused_schedule.empty()) o.fused_schedule = f.fused_schedule;
  if (!f.batch_norm.empty()) o.batch_norm = f.batch_norm;
  if (f.blocks_option && f.blocks_option->count() > 0) o.fused_blocks = f.fused_blocks;
  return o;
}

}  // namespace graft::cli
