// bn-bench: batch norm's two CUDA implementations (cuda/batch_norm.h: graft's
// fused kernels, cuDNN's per-activation routines) and dropout, per kernel, on
// graft's shapes: batch 50 and 4096 x 300 and 100 features, relu fused.
// docs/cuda-backend.md ("Batch norm and dropout kernels") records what it
// measured and which implementation the backend defaults to.
//
//   bn-bench [--rounds N] [--iters N]
//
// Each case: a warm-up, then --rounds (default 9) rounds of --iters (default
// 200) back-to-back launches on one stream between two CUDA events; the
// median round's time per call. Before timing, cuDNN's outputs are compared
// with graft's (max relative difference printed). Output, one line per case:
//
//   bn impl=fused|cudnn op=fwd_train|fwd_infer|bwd batch=B features=F us=U spread=S max_rel_diff=E
//   dropout op=fwd batch=B features=F us=U spread=S
//
// Without a usable CUDA device it prints one line saying so and exits 2;
// without cuDNN in the build the cuDNN cases print "cudnn=absent".
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "checkpoint/error.h"
#include "cuda/batch_norm.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_check.h"
#include "cuda/device_buffer.h"
#include "cuda/dropout.h"

namespace {

using graft::cuda::DeviceBuffer;

struct Timing {
  double us, spread;  // median per call; (max - min) / median over rounds
};

Timing time_it(const std::function<void()>& launch, int rounds, int iters, cudaStream_t stream) {
  for (int i = 0; i < 10; ++i) launch();
  GRAFT_CUDA_CHECK(cudaStreamSynchronize(stream));
  cudaEvent_t a, b;
  GRAFT_CUDA_CHECK(cudaEventCreate(&a));
  GRAFT_CUDA_CHECK(cudaEventCreate(&b));
  std::vector<double> per_call;
  for (int r = 0; r < rounds; ++r) {
    GRAFT_CUDA_CHECK(cudaEventRecord(a, stream));
    for (int i = 0; i < iters; ++i) launch();
    GRAFT_CUDA_CHECK(cudaEventRecord(b, stream));
    GRAFT_CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0;
    GRAFT_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    per_call.push_back(1000.0 * ms / iters);
  }
  GRAFT_CUDA_CHECK(cudaEventDestroy(a));
  GRAFT_CUDA_CHECK(cudaEventDestroy(b));
  std::sort(per_call.begin(), per_call.end());
  const double med = per_call[per_call.size() / 2];
  return {med, (per_call.back() - per_call.front()) / med};
}

DeviceBuffer<float> upload(const std::vector<float>& h, const char* what) {
  DeviceBuffer<float> d(h.size(), what);
  GRAFT_CUDA_CHECK(cudaMemcpy(d.get(), h.data(), h.size() * sizeof(float), cudaMemcpyHostToDevice));
  return d;
}

std::vector<float> download(const DeviceBuffer<float>& d, size_t n) {
  std::vector<float> h(n);
  GRAFT_CUDA_CHECK(cudaMemcpy(h.data(), d.get(), n * sizeof(float), cudaMemcpyDeviceToHost));
  return h;
}

// max |a - b| / (|b| + 1e-3 * max |b|): relative, with a floor so values
// near zero do not dominate.
double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double top = 0, worst = 0;
  for (float v : b) top = std::max(top, static_cast<double>(std::fabs(v)));
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]) / (std::fabs(b[i]) + 1e-3 * top));
  }
  return worst;
}

std::vector<float> uniform(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

void bench_shape(int64_t rows, int64_t cols, int rounds, int iters, cudaStream_t stream) {
  const size_t n = static_cast<size_t>(rows * cols), c = static_cast<size_t>(cols);
  const graft::Activation relu{graft::ActivationKind::kRelu};
  const float eps = 0.001f;
  DeviceBuffer<float> x = upload(uniform(n, -2, 3, 1), "x"), dy = upload(uniform(n, -1, 1, 2), "dy");
  DeviceBuffer<float> gamma = upload(uniform(c, 0.5f, 1.5f, 3), "gamma"), beta = upload(uniform(c, -0.5f, 0.5f, 4), "beta");
  DeviceBuffer<float> y(n, "y"), dx(n, "dx"), mean(c, "mean"), var(c, "var"), rstd(c, "rstd"), dgamma(c, "dgamma"),
      dbeta(c, "dbeta"), sums(graft::cuda::batch_norm_backward_scratch_size(cols), "sums");
  DeviceBuffer<float> y2(n, "y2"), dx2(n, "dx2"), mean2(c, "mean2"), var2(c, "var2"), rstd2(c, "rstd2"),
      dgamma2(c, "dgamma2"), dbeta2(c, "dbeta2");

  auto fused_train = [&] {
    graft::cuda::batch_norm_forward_train(x.get(), rows, cols, gamma.get(), beta.get(), eps, relu, y.get(), mean.get(),
                                          var.get(), rstd.get(), stream);
  };
  auto fused_infer = [&] {
    graft::cuda::batch_norm_forward_infer(x.get(), rows, cols, gamma.get(), beta.get(), mean.get(), var.get(), eps,
                                          relu, y.get(), stream);
  };
  auto fused_bwd = [&] {
    graft::cuda::batch_norm_backward(dy.get(), y.get(), relu, x.get(), mean.get(), rstd.get(), gamma.get(), rows, cols,
                                     dx.get(), dgamma.get(), dbeta.get(), sums.get(), stream);
  };
  fused_train();
  fused_bwd();
  GRAFT_CUDA_CHECK(cudaStreamSynchronize(stream));
  const std::vector<float> ref_y = download(y, n), ref_dx = download(dx, n), ref_var = download(var, c);
  const Timing t_train = time_it(fused_train, rounds, iters, stream);
  const Timing t_infer = time_it(fused_infer, rounds, iters, stream);
  const Timing t_bwd = time_it(fused_bwd, rounds, iters, stream);
  std::printf("bn impl=fused op=fwd_train batch=%lld features=%lld us=%.2f spread=%.2f max_rel_diff=0\n",
              static_cast<long long>(rows), static_cast<long long>(cols), t_train.us, t_train.spread);
  std::printf("bn impl=fused op=fwd_infer batch=%lld features=%lld us=%.2f spread=%.2f max_rel_diff=0\n",
              static_cast<long long>(rows), static_cast<long long>(cols), t_infer.us, t_infer.spread);
  std::printf("bn impl=fused op=bwd batch=%lld features=%lld us=%.2f spread=%.2f max_rel_diff=0\n",
              static_cast<long long>(rows), static_cast<long long>(cols), t_bwd.us, t_bwd.spread);

  if (!graft::cuda::cudnn_compiled_in()) {
    std::printf("bn impl=cudnn batch=%lld features=%lld cudnn=absent\n", static_cast<long long>(rows),
                static_cast<long long>(cols));
  } else {
    graft::cuda::CudnnBatchNorm bn(rows, cols);
    auto cudnn_train = [&] {
      bn.forward_train(x.get(), rows, cols, gamma.get(), beta.get(), eps, relu, y2.get(), mean2.get(), var2.get(),
                       rstd2.get(), stream);
    };
    auto cudnn_infer = [&] {
      bn.forward_infer(x.get(), rows, cols, gamma.get(), beta.get(), mean.get(), var.get(), eps, relu, y2.get(), stream);
    };
    auto cudnn_bwd = [&] {
      bn.backward(dy.get(), y.get(), relu, x.get(), mean.get(), rstd.get(), gamma.get(), rows, cols, eps, dx2.get(),
                  dgamma2.get(), dbeta2.get(), stream);
    };
    cudnn_train();
    GRAFT_CUDA_CHECK(cudaStreamSynchronize(stream));
    const double d_train = std::max(max_rel_diff(download(y2, n), ref_y), max_rel_diff(download(var2, c), ref_var));
    cudnn_bwd();
    GRAFT_CUDA_CHECK(cudaStreamSynchronize(stream));
    const double d_bwd = max_rel_diff(download(dx2, n), ref_dx);
    cudnn_infer();
    GRAFT_CUDA_CHECK(cudaStreamSynchronize(stream));
    fused_infer();
    GRAFT_CUDA_CHECK(cudaStreamSynchronize(stream));
    const double d_infer = max_rel_diff(download(y2, n), download(y, n));
    const Timing c_train = time_it(cudnn_train, rounds, iters, stream);
    const Timing c_infer = time_it(cudnn_infer, rounds, iters, stream);
    const Timing c_bwd = time_it(cudnn_bwd, rounds, iters, stream);
    std::printf("bn impl=cudnn op=fwd_train batch=%lld features=%lld us=%.2f spread=%.2f max_rel_diff=%.2e\n",
                static_cast<long long>(rows), static_cast<long long>(cols), c_train.us, c_train.spread, d_train);
    std::printf("bn impl=cudnn op=fwd_infer batch=%lld features=%lld us=%.2f spread=%.2f max_rel_diff=%.2e\n",
                static_cast<long long>(rows), static_cast<long long>(cols), c_infer.us, c_infer.spread, d_infer);
    std::printf("bn impl=cudnn op=bwd batch=%lld features=%lld us=%.2f spread=%.2f max_rel_diff=%.2e\n",
                static_cast<long long>(rows), static_cast<long long>(cols), c_bwd.us, c_bwd.spread, d_bwd);
  }

  DeviceBuffer<uint64_t> step(1, "step");
  GRAFT_CUDA_CHECK(cudaMemset(step.get(), 0, sizeof(uint64_t)));
  auto drop = [&] { graft::cuda::dropout_forward(x.get(), rows, cols, 0.3f, 1234, step.get(), 1, y.get(), stream); };
  const Timing t_drop = time_it(drop, rounds, iters, stream);
  std::printf("dropout op=fwd batch=%lld features=%lld us=%.2f spread=%.2f\n", static_cast<long long>(rows),
              static_cast<long long>(cols), t_drop.us, t_drop.spread);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 9, iters = 200;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--rounds" || a == "--iters") && i + 1 < argc) {
      const int v = std::atoi(argv[++i]);
      if (v < 1) {
        std::fprintf(stderr, "bn-bench: %s needs a positive count\n", a.c_str());
        return 2;
      }
      (a == "--rounds" ? rounds : iters) = v;
    } else {
      std::fprintf(stderr, "bn-bench: unknown argument %s (usage: bn-bench [--rounds N] [--iters N])\n", a.c_str());
      return 2;
    }
  }
  if (graft::cuda_device_count() <= 0) {
    std::fprintf(stderr, "bn-bench: no usable CUDA device (%s); nothing measured\n", graft::cuda_device_summary().c_str());
    return 2;
  }
  try {
    cudaStream_t stream;
    GRAFT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    for (int64_t rows : {50, 4096}) {
      for (int64_t cols : {300, 100}) bench_shape(rows, cols, rounds, iters, stream);
    }
    GRAFT_CUDA_CHECK(cudaStreamDestroy(stream));
  } catch (const graft::Error& e) {
    std::fprintf(stderr, "bn-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
