// elementwise-cpu-bench: the element-wise CPU kernels (host/cpu/
// elementwise_variants.h: bias + activation, its backward with the bias
// gradient, the optimizer update) in every instruction-set build this CPU
// runs, one call at a time, on graft's shapes. The builds alternate round by
// round in one process, so a slow phase of the machine hits both alike; the
// minimum round is the figure (the least disturbed), the median beside it.
// It runs in the CPU backend's floating-point mode (host/cpu/float_mode.h:
// denormals flushed): the backward's in-place gradient shrinks call after
// call, and denormals would otherwise time microcode assists, not the loops.
//
//   elementwise-cpu-bench [--rounds N] [--min-round-us U]
//
// Cases: bias_act / act_bwd (relu, leaky_relu, elu) on 50 x 300 and 4096 x 300; the
// update of the 784 x 300 kernel (235 200 elements, L2-resident as in the
// training step) for every optimizer, clipping by value on. Output, one line
// per case and build, then the ratio:
//
//   elementwise_cpu op=OP shape=S variant=V min_us=U median_us=M
//   elementwise_cpu op=OP shape=S speedup=BASELINE_MIN/WIDEST_MIN
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "host/cpu/elementwise_variants.h"
#include "host/cpu/float_mode.h"
#include "host/model/activation.h"
#include "host/model/optimizer_config.h"

namespace {

namespace ev = graft::cpu::elementwise_variants;
using Clock = std::chrono::steady_clock;

std::vector<float> uniform(std::size_t n, float lo, float hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

struct Stats {
  double min_us = 1e300;
  std::vector<double> rounds;
};

// calls[v] for every supported variant v, alternating round by round.
void run_case(const std::string& op, const std::string& shape, const std::vector<std::function<void()>>& calls,
              int rounds, double min_round_us) {
  std::vector<int> iters(calls.size());
  for (std::size_t v = 0; v < calls.size(); ++v) {
    for (int i = 0; i < 3; ++i) calls[v]();
    const auto t0 = Clock::now();
    calls[v]();
    const double one = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    iters[v] = std::max(1, static_cast<int>(min_round_us / std::max(one, 0.01)));
  }
  std::vector<Stats> stats(calls.size());
  for (int r = 0; r < rounds; ++r) {
    for (std::size_t v = 0; v < calls.size(); ++v) {
      const auto a = Clock::now();
      for (int i = 0; i < iters[v]; ++i) calls[v]();
      const double us = std::chrono::duration<double, std::micro>(Clock::now() - a).count() / iters[v];
      stats[v].rounds.push_back(us);
      stats[v].min_us = std::min(stats[v].min_us, us);
    }
  }
  for (std::size_t v = 0; v < calls.size(); ++v) {
    std::vector<double>& t = stats[v].rounds;
    std::sort(t.begin(), t.end());
    std::printf("elementwise_cpu op=%s shape=%s variant=%s min_us=%.2f median_us=%.2f\n", op.c_str(), shape.c_str(),
                ev::name(static_cast<int>(v)), stats[v].min_us, t[t.size() / 2]);
  }
  if (calls.size() > 1) {
    std::printf("elementwise_cpu op=%s shape=%s speedup=%.2f\n", op.c_str(), shape.c_str(),
                stats[0].min_us / stats.back().min_us);
  }
}

int parse_int(const char* flag, const char* v) {
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (!end || *end || x <= 0 || x > 1000000) {
    std::fprintf(stderr, "elementwise-cpu-bench: %s wants a positive integer, got '%s'\n", flag, v);
    std::exit(1);
  }
  return static_cast<int>(x);
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 21;
  double min_round_us = 2000;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--rounds" || a == "--min-round-us") && i + 1 < argc) {
      const int v = parse_int(argv[i], argv[i + 1]);
      ++i;
      if (a == "--rounds") {
        rounds = v;
      } else {
        min_round_us = v;
      }
    } else {
      std::fprintf(stderr, "usage: elementwise-cpu-bench [--rounds N] [--min-round-us U]\n");
      return a == "--help" ? 0 : 1;
    }
  }
  const graft::cpu::ScopedFlushDenormals backend_float_mode;
  int variants = 0;
  while (variants < ev::count() && ev::supported(variants)) ++variants;
  std::printf("elementwise_cpu builds=%d chosen=%s\n", variants, ev::name(ev::chosen()));

  const int64_t cols = 300;
  for (int64_t rows : {int64_t{50}, int64_t{4096}}) {
    const std::string shape = std::to_string(rows) + "x" + std::to_string(cols);
    const std::vector<float> x = uniform(static_cast<std::size_t>(rows * cols), -2.0f, 2.0f, 1);
    const std::vector<float> bias = uniform(cols, -0.5f, 0.5f, 2);
    std::vector<float> y(x.size()), grad(x.size()), bias_grad(cols);
    for (graft::ActivationKind kind :
         {graft::ActivationKind::kRelu, graft::ActivationKind::kLeakyRelu, graft::ActivationKind::kElu}) {
      graft::Activation act{kind};
      act.alpha = 0.2f;
      const std::string name = graft::activation_name(act);
      std::vector<std::function<void()>> fwd, bwd;
      for (int v = 0; v < variants; ++v) {
        // Forward on a fresh copy of x each call would time the copy too:
        // it runs on y in place, which stays finite (relu/elu of bounded
        // values plus a bounded bias drifts by at most |bias| per call).
        fwd.push_back([&, v] { ev::bias_activation_forward(v, y.data(), bias.data(), rows, cols, act); });
        bwd.push_back([&, v] {
          ev::activation_backward_bias_grad(v, grad.data(), x.data(), bias_grad.data(), rows, cols, act);
        });
      }
      std::copy(x.begin(), x.end(), y.begin());
      run_case("bias_act_" + name, shape, fwd, rounds, min_round_us);
      std::fill(grad.begin(), grad.end(), 0.5f);  // the derivatives keep it bounded
      run_case("act_bwd_" + name, shape, bwd, rounds, min_round_us);
    }
  }

  const int64_t n = 784 * 300;
  const std::vector<float> g = uniform(static_cast<std::size_t>(n), -2.0f, 2.0f, 3);
  const struct {
    graft::OptimizerKind kind;
    const char* name;
  } rules[] = {{graft::OptimizerKind::kSgd, "sgd"},         {graft::OptimizerKind::kMomentum, "momentum"},
               {graft::OptimizerKind::kNesterov, "nesterov"}, {graft::OptimizerKind::kAdagrad, "adagrad"},
               {graft::OptimizerKind::kRmsProp, "rmsprop"},   {graft::OptimizerKind::kAdam, "adam"}};
  for (const auto& rule : rules) {
    graft::OptimizerConfig config;
    config.kind = rule.kind;
    config.learning_rate = 1e-6f;  // the weights barely move over many calls
    config.clip_value = 1.0f;
    graft::OptimizerScalars scalars;
    scalars.beta1_power = 0.9f;
    scalars.beta2_power = 0.999f;
    std::vector<float> w = uniform(static_cast<std::size_t>(n), -0.1f, 0.1f, 4);
    std::vector<float> s0(static_cast<std::size_t>(n), 0.1f), s1(static_cast<std::size_t>(n), 0.1f);
    std::vector<std::function<void()>> calls;
    for (int v = 0; v < variants; ++v) {
      calls.push_back(
          [&, v] { ev::optimizer_update(v, config, scalars, w.data(), g.data(), s0.data(), s1.data(), n, 1.0f); });
    }
    run_case(std::string("update_") + rule.name, "784x300", calls, rounds, min_round_us);
  }
  return 0;
}
