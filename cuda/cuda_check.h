#pragma once
// Checking macros for every CUDA runtime and cuBLAS call in cuda/. A failure
// throws graft::Error with the call's text, file:line and the library's own
// name for the status, e.g.
//   "CUDA error: cudaMemcpyAsync(...) failed at cuda/cuda_backend.cc:123:
//    an illegal memory access was encountered (cudaErrorIllegalAddress)"
// Kernel launches are checked with GRAFT_CUDA_CHECK_LAUNCH() right after the
// <<<>>> (launch-configuration errors are reported there; faults inside a
// kernel surface at the next synchronising call, as always with CUDA).
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <string>

#include "checkpoint/error.h"

namespace graft::cuda {

[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* call, const char* file,
                                          int line) {
  throw Error(std::string("CUDA error: ") + call + " failed at " + file + ":" +
              std::to_string(line) + ": " + cudaGetErrorString(err) + " (" +
              cudaGetErrorName(err) + ")");
}

[[noreturn]] inline void throw_cublas_error(cublasStatus_t status, const char* call,
                                            const char* file, int line) {
  throw Error(std::string("cuBLAS error: ") + call + " failed at " + file + ":" +
              std::to_string(line) + ": " + cublasGetStatusName(status) + " (" +
              cublasGetStatusString(status) + ")");
}

}  // namespace graft::cuda

#define GRAFT_CUDA_CHECK(call)                                                  \
  do {                                                                          \
    const cudaError_t graft_cuda_err_ = (call);                                 \
    if (graft_cuda_err_ != cudaSuccess) {                                       \
      ::graft::cuda::throw_cuda_error(graft_cuda_err_, #call, __FILE__, __LINE__); \
    }                                                                           \
  } while (0)

#define GRAFT_CUBLAS_CHECK(call)                                                    \
  do {                                                                              \
    const cublasStatus_t graft_cublas_status_ = (call);                             \
    if (graft_cublas_status_ != CUBLAS_STATUS_SUCCESS) {                            \
      ::graft::cuda::throw_cublas_error(graft_cublas_status_, #call, __FILE__, __LINE__); \
    }                                                                               \
  } while (0)

// After a <<<>>> launch: reports (and clears) a launch-configuration error.
#define GRAFT_CUDA_CHECK_LAUNCH() GRAFT_CUDA_CHECK(cudaGetLastError())
