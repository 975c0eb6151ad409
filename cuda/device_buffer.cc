#include "cuda/device_buffer.h"

#include <cstdio>

#include "cuda/cuda_check.h"

namespace graft::cuda {
namespace {

std::string mib(std::size_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

}  // namespace

void* device_alloc(std::size_t bytes, const std::string& what) {
  if (bytes == 0) return nullptr;
  void* p = nullptr;
  const cudaError_t err = cudaMalloc(&p, bytes);
  if (err == cudaSuccess) return p;
  (void)cudaGetLastError();  // cudaMalloc's error is not sticky; clear it
  if (err == cudaErrorMemoryAllocation) {
    std::size_t free_bytes = 0, total_bytes = 0;
    std::string free_text = "unknown";
    if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
      free_text = mib(free_bytes) + " free of " + mib(total_bytes);
    } else {
      (void)cudaGetLastError();
    }
    throw Error("CUDA out of memory allocating " + what + ": asked for " +
                std::to_string(bytes) + " bytes (" + mib(bytes) + "), device has " + free_text);
  }
  throw Error("CUDA error allocating " + what + " (" + std::to_string(bytes) +
              " bytes): " + cudaGetErrorString(err) + " (" + cudaGetErrorName(err) + ")");
}

void device_free(void* p) noexcept {
  if (p && cudaFree(p) != cudaSuccess) (void)cudaGetLastError();
}

void* host_alloc_pinned(std::size_t bytes, const std::string& what) {
  void* p = nullptr;
  const cudaError_t err = cudaMallocHost(&p, bytes == 0 ? 1 : bytes);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    throw Error("CUDA error allocating pinned host memory for " + what + " (" +
                std::to_string(bytes) + " bytes): " + cudaGetErrorString(err));
  }
  return p;
}

void host_free_pinned(void* p) noexcept {
  if (p && cudaFreeHost(p) != cudaSuccess) (void)cudaGetLastError();
}

}  // namespace graft::cuda
