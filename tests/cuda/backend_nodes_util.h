#pragma once
// Helpers of the CUDA backend's batch-norm and dropout suites
// (backend_batch_norm_test.cc, backend_dropout_test.cc): a GPU backend on a
// given batch-norm path, the paths this build has, a data set's features
// back on the host (logits from forward_prefix through every node), and the
// tolerances of each path.
//
// Tolerances (|gpu - cpu| <= atol + rtol |cpu|), and why. The kernels
// themselves are compared in batch_norm_test.cc and dropout_test.cc; here
// whole networks of 13-16 inputs, 16 hidden units and batches of 7-16 rows:
//   fused path (graft's kernels): batch statistics within 2 ulps of the
//     CPU's (both sum in double), normalise and dropout the same float
//     operations; what remains is cuBLAS vs OpenBLAS summation order
//     (~1e-7 relative per GEMM). One step's gradients (read back as w - w'
//     after SGD at lr 1: one more rounding of |w| < 2, 2.4e-7): atol 1e-5,
//     rtol 1e-4; moving statistics after a step (three float operations on
//     statistics 2 ulps apart): atol 1e-6, rtol 1e-5; inference logits:
//     atol 1e-5, rtol 1e-4; the batch's loss sum: 1e-5 relative.
//   cuDNN path: cuDNN's reductions are float, in an order it does not
//     document (batch_norm_test.cc: within 1e-4 of the term scale of graft's
//     kernels), and its biased variance is derived from the unbiased one
//     (two more roundings): ten times the fused path's bounds throughout
//     (gradients atol 1e-4, rtol 1e-3; moving statistics 1e-5, 1e-4; logits
//     1e-4, 1e-3; loss 1e-4). Set before any GPU run: to be confirmed and
//     tightened on a device.
//   16 steps of every optimizer: the dense suite's small-net tier, atol
//     3e-5, rtol 3e-4 (fused) and 1e-4, 1e-3 (cuDNN). A CPU stand-in (1e-6
//     relative perturbations of the initial weights, both placements, all 18
//     optimizer variants) stayed within 5% of the 3e-5 / 3e-4 bound, Adam
//     included, once the dense bias below a batch norm is frozen (see
//     backend_batch_norm_test.cc).
//   200 steps: tests/common/bn_parity_net.h, measured by the CPU stand-in
//     tests/host/batch_norm_parity_standin_test.cc.
#include <cuda_runtime_api.h>

#include <memory>
#include <string>
#include <vector>

#include "cuda/batch_norm.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_backend_internal.h"
#include "cuda/cuda_backend_options.h"
#include "cuda/cuda_check.h"
#include "host/backend.h"
#include "host/cpu/cpu_dataset.h"

namespace graft::test {

// The batch-norm paths of this build: graft's kernels always, cuDNN when linked.
inline std::vector<std::string> bn_paths() {
  std::vector<std::string> paths = {"fused"};
  if (cuda::cudnn_compiled_in()) paths.insert(paths.begin(), "cudnn");
  return paths;
}

// A GPU backend with batch norm on `path`; GRAFT_CUDA_GRAPHS=0 in the
// environment turns graphs off here too, GRAFT_CUDA_FUSED=1 is kept (the
// fused step refuses batch norm and dropout networks and takes the graph
// path, which is part of what is tested); TF32 is always off.
inline std::unique_ptr<Backend> gpu_on(const std::string& path, bool graphs = true) {
  CudaBackendOptions o = CudaBackendOptions::from_env();
  o.use_graphs = o.use_graphs && graphs;
  o.allow_tf32 = false;
  o.batch_norm = path;
  return make_cuda_backend(o);
}

// The features of a data set of either backend, on the host (synchronises).
inline std::vector<float> features_of(const DeviceDataset& d) {
  if (const auto* c = dynamic_cast<const cpu::CpuDataset*>(&d)) {
    return std::vector<float>(c->features.data(), c->features.data() + c->features.size());
  }
  const cuda::CudaDataset& g = cuda::as_cuda(d);
  std::vector<float> out(g.features.size());
  GRAFT_CUDA_CHECK(cudaDeviceSynchronize());
  if (!out.empty()) {
    GRAFT_CUDA_CHECK(cudaMemcpy(out.data(), g.features.get(), g.features.bytes(), cudaMemcpyDeviceToHost));
  }
  return out;
}

// Logits of every row of `d` in inference form (batch norm on its moving
// statistics, dropout off): forward_prefix through every node.
inline std::vector<float> inference_logits(Backend& b, const DeviceDataset& d, int nodes) {
  return features_of(*b.forward_prefix(d, nodes));
}

struct PathTolerances {
  double grad_atol, grad_rtol;      // one step's gradients
  double stats_atol, stats_rtol;    // moving statistics after a step
  double logits_atol, logits_rtol;  // inference logits, cached activations
  double loss_rtol;                 // a batch's loss sum
  double train_atol, train_rtol;    // 16 steps of every optimizer
};

inline PathTolerances tolerances(const std::string& path) {
  if (path == "cudnn") return {1e-4, 1e-3, 1e-5, 1e-4, 1e-4, 1e-3, 1e-4, 1e-4, 1e-3};
  return {1e-5, 1e-4, 1e-6, 1e-5, 1e-5, 1e-4, 1e-5, 3e-5, 3e-4};
}

}  // namespace graft::test
