// cuBLAS's large-GEMM rate for graft-bench's physical limit (see gpu_peak.h).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "tools/bench/gpu_peak.h"

namespace graft_bench {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}
void check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) throw std::runtime_error(std::string(what) + ": cuBLAS status " + std::to_string(s));
}

__global__ void fill(float* p, size_t n, unsigned seed) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    unsigned x = static_cast<unsigned>(i) * 2654435761u ^ seed;
    x ^= x >> 13; x *= 0x5bd1e995u; x ^= x >> 15;
    p[i] = static_cast<float>(x & 0xffff) / 65536.0f - 0.5f;
  }
}

}  // namespace

double cublas_sgemm_gflops(int n, int repeats, bool tf32) {
  check(cudaSetDevice(0), "cudaSetDevice");
  const size_t elems = size_t(n) * n;
  float *a = nullptr, *b = nullptr, *c = nullptr;
  check(cudaMalloc(&a, elems * sizeof(float)), "cudaMalloc");
  check(cudaMalloc(&b, elems * sizeof(float)), "cudaMalloc");
  check(cudaMalloc(&c, elems * sizeof(float)), "cudaMalloc");
  fill<<<1024, 256>>>(a, elems, 1u);
  fill<<<1024, 256>>>(b, elems, 2u);
  check(cudaGetLastError(), "fill");
  cublasHandle_t h = nullptr;
  check(cublasCreate(&h), "cublasCreate");
  check(cublasSetMathMode(h, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  const float one = 1.0f, zero = 0.0f;
  auto gemm = [&] { check(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a, n, b, n, &zero, c, n), "cublasSgemm"); };
  gemm();  // warm-up: heuristics, clocks
  check(cudaDeviceSynchronize(), "warm-up");
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    check(cudaEventRecord(start), "cudaEventRecord");
    gemm();
    check(cudaEventRecord(stop), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float t = 0;
    check(cudaEventElapsedTime(&t, start, stop), "cudaEventElapsedTime");
    ms.push_back(t);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cublasDestroy(h);
  cudaFree(a);
  cudaFree(b);
  cudaFree(c);
  std::sort(ms.begin(), ms.end());
  const double med = ms[ms.size() / 2];
  return 2.0 * n * double(n) * n / (med * 1e-3) / 1e9;
}

// No usable device (cudaGetDeviceCount failing for any reason, e.g. no
// driver, counts as none): nothing can be pending, so nothing to wait for.
void device_synchronize() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return;
  }
  if (n > 0) check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

}  // namespace graft_bench
