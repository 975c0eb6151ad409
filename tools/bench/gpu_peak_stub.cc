// graft-bench without the CUDA backend: no GPU peak to measure.
#include <stdexcept>

#include "tools/bench/gpu_peak.h"

namespace graft_bench {

double cublas_sgemm_gflops(int, int, bool) {
  throw std::runtime_error("the CUDA backend is not compiled into this build");
}

void device_synchronize() {}

}  // namespace graft_bench
