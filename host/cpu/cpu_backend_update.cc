// The CPU backend's optimizer update (host/cpu/reference_kernels.h's
// optimizer_update) of a range of one tensor, or of a whole tensor split
// between the team.
#include <cstdint>

#include "host/cpu/cpu_backend_internal.h"
#include "host/cpu/reference_kernels.h"
#include "host/cpu/thread_team.h"

namespace graft::cpu_backend_detail {

float* CpuBackend::slot_ptr(int index, int slot, int64_t offset) {
  return slot < num_slots_ ? slots_[static_cast<std::size_t>(index)][slot].data() + offset : nullptr;
}

void CpuBackend::update_range(int index, int64_t begin, int64_t end, float grad_scale) {
  cpu::optimizer_update(optimizer_, scalars_, params_[index].data() + begin, grads_[index].data() + begin,
                        slot_ptr(index, 0, begin), slot_ptr(index, 1, begin), end - begin, grad_scale);
}

void CpuBackend::update_whole(int index, float grad_scale) {
  const int64_t size = params_[index].size();
  if (team_.size() > 1 && size >= kParallelElements) {
    team_.run([&](int part, int parts) {
      const Range r = split_range(size, part, parts, 16);
      update_range(index, r.begin, r.end, grad_scale);
    });
  } else {
    update_range(index, 0, size, grad_scale);
  }
}

}  // namespace graft::cpu_backend_detail
