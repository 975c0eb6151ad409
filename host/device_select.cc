#include "host/device_select.h"

#include "checkpoint/error.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_backend_options.h"

namespace graft {

SelectedBackend select_backend(const std::string& device, int cpu_threads,
                               const std::optional<CudaBackendOptions>& cuda) {
  auto make_cuda = [&] { return make_cuda_backend(cuda ? *cuda : CudaBackendOptions::from_env()); };
  SelectedBackend out;
  if (device == "cpu") {
    out.backend = make_cpu_backend(cpu_threads);
    out.note = "device: cpu";
  } else if (device == "cuda") {
    out.backend = make_cuda();  // throws with the reason when unusable
    out.gpu = true;
    out.note = "device: cuda";
  } else if (device == "auto") {
    if (cuda_device_count() > 0) {
      out.backend = make_cuda();
      out.gpu = true;
      out.note = "device: auto -> cuda";
    } else {
      out.backend = make_cpu_backend(cpu_threads);
      // Short: the full reason (driver, runtime) is what `graft --version`
      // prints; repeating it on every command buries the output.
      out.note = "device: auto -> cpu (no usable CUDA device; graft --version says why)";
    }
  } else {
    throw Error("unknown device '" + device + "' (expected cpu, cuda or auto)");
  }
  out.note += " [" + out.backend->description() + "]";
  out.short_note = "device: " + out.backend->description();
  return out;
}

}  // namespace graft
