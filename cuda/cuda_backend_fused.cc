// The CUDA backend's fused-step strategy: the Program (cuda/fused/) for a
// first layer, walking the step plan the graph path walks, on the parameter
// layout's tensors, or null with the reason when the fused step cannot run
// that plan (train_step then takes
// the graph path). The class: cuda/cuda_backend_internal.h.
#include <memory>
#include <string>
#include <vector>

#include "cuda/cuda_backend_internal.h"
#include "cuda/fused/plan.h"
#include "cuda/fused_step.h"

namespace graft::cuda {

fused::Program* CudaBackend::fused_program(int first_layer) {
  auto it = fused_programs_.find(first_layer);
  if (it != fused_programs_.end()) return it->second.get();
  // The same plan the graph path walks (one per first layer and trainable set).
  const StepPlan& plan = chunk_table(first_layer).plan;
  std::string why = fused::unsupported_reason(layers_, plan, max_batch_);
  if (why.empty()) why = fused::regularization_unsupported_reason(regularizer_.per_param());
  if (why.empty() && fused_grid_ == 0) fused_grid_ = fused_step_grid(device_, options_.fused_blocks, &why);
  if (!why.empty()) {
    stats_.fused_error = why;  // decided once per first_layer: these steps take the cuBLAS path
    fused_programs_.emplace(first_layer, nullptr);
    return nullptr;
  }
  std::vector<fused::LayerMemory> memory(layers_.size());
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    fused::LayerMemory& m = memory[l];
    const int node = static_cast<int>(l);
    const int w = layout_.kernel(node), b = layout_.bias(node);
    m.w = param_ptr(w);
    m.b = param_ptr(b);
    for (int k = 0; k < num_slots_; ++k) {
      m.w_slot[k] = slot_ptr(k, w);
      m.b_slot[k] = slot_ptr(k, b);
    }
    m.out = act_[l].get();
    m.dz = dgrad_[l].get();
  }
  auto p = std::make_unique<fused::Program>(
      fused::make_program(layers_, plan, optimizer_, memory,
                          fused_tile_loss_.get(), fused_tile_hits_.get(), state_.get(),
                          fused_schedule_));
  return fused_programs_.emplace(first_layer, std::move(p)).first->second.get();
}

}  // namespace graft::cuda
