// bn-cpu-bench: batch norm's and dropout's CPU kernels (host/cpu/
// batch_norm_kernels.h, host/cpu/dropout_kernels.h), one call at a time, on
// graft's shapes: batch 50 and 4096 x 300 and 100 features. The PyTorch peer
// of the same ops is tools/bench/bn_cpu_torch.py; tools/bench/bn_cpu_compare.sh
// runs both. docs/performance.md ("Batch norm and dropout kernels (CPU)")
// records what they measured.
//
//   bn-cpu-bench [--rounds N] [--min-round-us U] [--shapes 50x300,4096x100,...]
//
// Each case: a warm-up, then --rounds (default 21) rounds of back-to-back
// calls, each round at least --min-round-us (default 2000) long; the median
// round's time per call. The kernels are single-threaded (as in the
// backend: one call per layer). Identity activation (no fusion), gamma and
// beta present, dropout rate 0.3; the _relu cases fuse relu, and
// bwd_relu_inplace writes dx over dy (its time includes a memcpy of dy). Output, one line per case:
//
//   bn_cpu op=fwd_train|fwd_infer|bwd|fwd_train_relu|bwd_relu_inplace|dropout_fwd batch=B features=F us=U spread=S
//
// spread = (max - min) / median over the rounds.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "host/cpu/batch_norm_kernels.h"
#include "host/cpu/dropout_kernels.h"
#include "host/model/activation.h"

namespace {

struct Timing {
  double us, spread;
};

Timing time_it(const std::function<void()>& call, int rounds, double min_round_us) {
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < 3; ++i) call();
  // Calls per round: enough for min_round_us, from one timed call.
  const auto t0 = clock::now();
  call();
  const double one = std::chrono::duration<double, std::micro>(clock::now() - t0).count();
  const int iters = std::max(1, static_cast<int>(min_round_us / std::max(one, 0.01)));
  std::vector<double> per_call;
  for (int r = 0; r < rounds; ++r) {
    const auto a = clock::now();
    for (int i = 0; i < iters; ++i) call();
    const auto b = clock::now();
    per_call.push_back(std::chrono::duration<double, std::micro>(b - a).count() / iters);
  }
  std::sort(per_call.begin(), per_call.end());
  const double med = per_call[per_call.size() / 2];
  return {med, (per_call.back() - per_call.front()) / med};
}

std::vector<float> uniform(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

void report(const char* op, int64_t rows, int64_t cols, Timing t) {
  std::printf("bn_cpu op=%s batch=%lld features=%lld us=%.2f spread=%.2f\n", op, static_cast<long long>(rows),
              static_cast<long long>(cols), t.us, t.spread);
  std::fflush(stdout);
}

void run_shape(int64_t rows, int64_t cols, int rounds, double min_round_us) {
  using graft::Activation;
  using graft::ActivationKind;
  const size_t n = static_cast<size_t>(rows * cols);
  const std::vector<float> x = uniform(n, -2.0f, 3.0f, 1), dy = uniform(n, -1.0f, 1.0f, 2);
  const std::vector<float> gamma = uniform(cols, 0.5f, 1.5f, 3), beta = uniform(cols, -0.5f, 0.5f, 4);
  const std::vector<float> mm = uniform(cols, -0.5f, 0.5f, 5), mv = uniform(cols, 0.5f, 2.0f, 6);
  std::vector<float> y(n), dx(n), mean(cols), var(cols), rstd(cols), dgamma(cols), dbeta(cols);
  const Activation id{ActivationKind::kIdentity};
  report("fwd_train", rows, cols, time_it([&] {
           graft::cpu::batch_norm_forward_train(x.data(), rows, cols, gamma.data(), beta.data(), 0.001f, id,
                                                y.data(), mean.data(), var.data(), rstd.data());
         }, rounds, min_round_us));
  report("fwd_infer", rows, cols, time_it([&] {
           graft::cpu::batch_norm_forward_infer(x.data(), rows, cols, gamma.data(), beta.data(), mm.data(),
                                                mv.data(), 0.001f, id, y.data());
         }, rounds, min_round_us));
  // The backward of the forward above (y, mean, rstd from the last call).
  graft::cpu::batch_norm_forward_train(x.data(), rows, cols, gamma.data(), beta.data(), 0.001f, id, y.data(),
                                       mean.data(), var.data(), rstd.data());
  report("bwd", rows, cols, time_it([&] {
           graft::cpu::batch_norm_backward(dy.data(), y.data(), id, x.data(), mean.data(), rstd.data(),
                                           gamma.data(), rows, cols, dx.data(), dgamma.data(), dbeta.data());
         }, rounds, min_round_us));
  // The same with relu fused (graft's usual placement: BN, then relu), and
  // in place (dx over dy, as the backend's graph path calls it).
  const Activation relu{ActivationKind::kRelu};
  report("fwd_train_relu", rows, cols, time_it([&] {
           graft::cpu::batch_norm_forward_train(x.data(), rows, cols, gamma.data(), beta.data(), 0.001f, relu,
                                                y.data(), mean.data(), var.data(), rstd.data());
         }, rounds, min_round_us));
  report("bwd_relu_inplace", rows, cols, time_it([&] {
           std::memcpy(dx.data(), dy.data(), n * sizeof(float));
           graft::cpu::batch_norm_backward(dx.data(), y.data(), relu, x.data(), mean.data(), rstd.data(),
                                           gamma.data(), rows, cols, dx.data(), dgamma.data(), dbeta.data());
         }, rounds, min_round_us));
  uint64_t step = 0;
  report("dropout_fwd", rows, cols, time_it([&] {
           graft::cpu::dropout_forward(x.data(), rows, cols, 0.3f, 1234, ++step, 7, y.data());
         }, rounds, min_round_us));
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 21;
  double min_round_us = 2000;
  std::string shapes = "50x300,50x100,4096x300,4096x100";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) {
      rounds = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--min-round-us" && i + 1 < argc) {
      min_round_us = std::atof(argv[++i]);
    } else if (a == "--shapes" && i + 1 < argc) {
      shapes = argv[++i];
    } else {
      std::fprintf(stderr, "usage: bn-cpu-bench [--rounds N] [--min-round-us U] [--shapes 50x300,...]\n");
      return 2;
    }
  }
  size_t at = 0;
  while (at < shapes.size()) {
    size_t end = shapes.find(',', at);
    if (end == std::string::npos) end = shapes.size();
    const std::string s = shapes.substr(at, end - at);
    long long rows = 0, cols = 0;
    if (std::sscanf(s.c_str(), "%lldx%lld", &rows, &cols) != 2 || rows < 1 || cols < 1) {
      std::fprintf(stderr, "bn-cpu-bench: bad shape '%s' (want ROWSxCOLS)\n", s.c_str());
      return 2;
    }
    run_shape(rows, cols, rounds, min_round_us);
    at = end + 1;
  }
  return 0;
}
