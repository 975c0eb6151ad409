#pragma once
// GPU helpers for graft-bench, compiled as CUDA (gpu_peak.cu) when the CUDA
// backend is built, else as stubs (gpu_peak_stub.cc). Kept out of cuda/: they
// are measurement tools, not part of the library.

namespace graft_bench {

// cuBLAS's own large-GEMM rate: C = A·B, n x n x n, FP32 (or TF32 tensor-op
// math when tf32), on device 0; median of `repeats` after one warm-up, in
// GFLOP/s. Throws std::runtime_error when no device is usable (the stub
// always throws).
double cublas_sgemm_gflops(int n, int repeats, bool tf32);

// cudaDeviceSynchronize on device 0 (every stream) when a device is usable;
// a no-op without one (cudaGetDeviceCount failing counts as none) or without
// CUDA. graft-bench calls it on GPU runs only.
void device_synchronize();

}  // namespace graft_bench
