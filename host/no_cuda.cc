// The CUDA entry points in a build without the CUDA backend.
#include "checkpoint/error.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_backend_options.h"

namespace graft {

bool cuda_compiled() { return false; }
int cuda_device_count() noexcept { return 0; }
std::string cuda_device_summary() { return "no CUDA device: graft was built without the CUDA backend"; }
std::unique_ptr<Backend> make_cuda_backend(int) {
  throw Error("--device cuda: graft was built without the CUDA backend (rebuild with -DGRAFT_WITH_CUDA=ON)");
}
std::unique_ptr<Backend> make_cuda_backend(const CudaBackendOptions&, int device) { return make_cuda_backend(device); }
// Without the backend its settings have no effect; the defaults stand.
CudaBackendOptions CudaBackendOptions::from_env() { return CudaBackendOptions{}; }

void cuda_profiler_start() noexcept {}
void cuda_profiler_stop() noexcept {}

}  // namespace graft
