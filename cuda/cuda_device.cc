// Device queries and profiler control (cuda/cuda_backend.h).
#include <cuda_profiler_api.h>
#include <cuda_runtime_api.h>

#include <cstdio>
#include <string>

#include "cuda/cuda_backend.h"

namespace graft {

bool cuda_compiled() { return true; }

int cuda_device_count() noexcept {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n < 0 ? 0 : n;
}

std::string cuda_device_summary() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    return std::string("no CUDA device: ") + cudaGetErrorString(err) + " (" + cudaGetErrorName(err) + ")";
  }
  if (n <= 0) return "no CUDA device: none found";
  int driver = 0;
  if (cudaDriverGetVersion(&driver) != cudaSuccess) (void)cudaGetLastError();
  std::string out;
  for (int d = 0; d < n; ++d) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, d) != cudaSuccess) {
      (void)cudaGetLastError();
      out += (d ? "; " : "") + std::string("device ") + std::to_string(d) + ": properties unavailable";
      continue;
    }
    char buf[512];
    std::snprintf(buf, sizeof buf, "%s%s (sm_%d%d, driver %d.%d, %.1f GiB)", d ? "; " : "", p.name,
                  p.major, p.minor, driver / 1000, (driver % 1000) / 10,
                  static_cast<double>(p.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0));
    out += buf;
  }
  return out;
}

void cuda_profiler_start() noexcept {
  if (cuda_device_count() > 0 && cudaProfilerStart() != cudaSuccess) (void)cudaGetLastError();
}

void cuda_profiler_stop() noexcept {
  if (cuda_device_count() > 0 && cudaProfilerStop() != cudaSuccess) (void)cudaGetLastError();
}

}  // namespace graft
