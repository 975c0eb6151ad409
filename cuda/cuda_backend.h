#pragma once
// Factory and device queries for the CUDA backend. Declared here, defined in
// cuda/ when the backend is compiled in, and in host/no_cuda.cc otherwise,
// so callers never need #ifdefs.
#include <memory>
#include <string>

#include "host/backend.h"

namespace graft {

// True when the CUDA backend was compiled into this build.
bool cuda_compiled();
// Number of usable devices; 0 when none, when the driver is missing or too
// old, or when the backend is not compiled in. Never throws.
int cuda_device_count() noexcept;
// "NVIDIA H100 80GB HBM3 (sm_90, driver 12.8)" or a reason there is none.
std::string cuda_device_summary();
// Throws graft::Error with a clear message when no device is usable.
// Settings from the environment: GRAFT_CUDA_GRAPHS=0 (no CUDA graphs),
// GRAFT_CUDA_TF32=1 (TF32 GEMMs); see cuda/cuda_backend_options.h.
std::unique_ptr<Backend> make_cuda_backend(int device = 0);

// cudaProfilerStart/Stop, for `--profile-steps A:B` with
// `nsys profile --capture-range=cudaProfilerApi` or `ncu --profile-from-start
// off` (docs/profiling.md). No-ops without a device; never throw.
// (A build without the CUDA backend needs no-op definitions in host/no_cuda.cc.)
void cuda_profiler_start() noexcept;
void cuda_profiler_stop() noexcept;

}  // namespace graft
