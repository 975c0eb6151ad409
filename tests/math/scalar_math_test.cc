// One copy of the scalar math (host/math/): the CPU backend's kernels and the
// fused program's elementwise steps (run on the CPU, as tests/fused's
// emulator does) must give exactly what direct calls of host/math give, bit
// for bit, on odd sizes and awkward values. A private copy in either path
// that rounds differently fails here. The CUDA kernels compile the same
// headers; their parity with the CPU is checked on a GPU (tests/cuda).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cuda/fused/plan.h"
#include "cuda/fused/program.h"
#include "host/cpu/reference_kernels.h"
#include "host/math/activation_math.h"
#include "host/math/clip_math.h"
#include "host/math/optimizer_math.h"

namespace graft {
namespace {

namespace fused = cuda::fused;

uint32_t bits(float v) {
  uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// Bit-for-bit equality of two float arrays, naming the first mismatch.
::testing::AssertionResult same_bits(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "sizes differ";
  for (size_t i = 0; i < got.size(); ++i) {
    if (bits(got[i]) != bits(want[i])) {
      std::ostringstream os;
      os.precision(9);
      os << "element " << i << ": " << got[i] << " (0x" << std::hex << bits(got[i]) << ") vs "
         << want[i] << " (0x" << bits(want[i]) << ")";
      return ::testing::AssertionFailure() << os.str();
    }
  }
  return ::testing::AssertionSuccess();
}

// Uniform values in [lo, hi], then a few awkward ones at the front: both
// sides of every kink, exp's underflow, infinities and NaN.
std::vector<float> values(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  const float special[] = {0.0f, 1e-7f, -1e-7f, -30.0f, 25.0f, 1.0f, -1.0f,
                           std::numeric_limits<float>::infinity(),
                           -std::numeric_limits<float>::infinity(),
                           std::numeric_limits<float>::quiet_NaN()};
  for (size_t i = 0; i < n && i < sizeof special / sizeof special[0]; ++i) v[i] = special[i];
  return v;
}

std::vector<Activation> all_activations() {
  std::vector<Activation> out;
  for (const char* name : {"identity", "relu", "elu", "selu", "leaky_relu:0.1", "tanh", "sigmoid"}) {
    out.push_back(*parse_activation(name));
  }
  return out;
}

constexpr OptimizerKind kAllOptimizers[] = {OptimizerKind::kSgd,     OptimizerKind::kMomentum,
                                            OptimizerKind::kNesterov, OptimizerKind::kAdagrad,
                                            OptimizerKind::kRmsProp, OptimizerKind::kAdam};

// Odd sizes: no multiple of a vector width or a tile.
constexpr int kRows = 7;
constexpr int kCols = 13;

TEST(ScalarMath, CpuBiasActivationIsTheMathCopy) {
  const std::vector<float> z = values(kRows * kCols, -5.0f, 5.0f, 1);
  const std::vector<float> bias = values(kCols, -0.5f, 0.5f, 2);
  for (const Activation& act : all_activations()) {
    std::vector<float> got = z;
    cpu::bias_activation_forward(got.data(), bias.data(), kRows, kCols, act);
    std::vector<float> want(z.size());
    for (int i = 0; i < kRows * kCols; ++i) {
      want[i] = math::activation(act.kind, z[i] + bias[i % kCols], act.alpha);
    }
    EXPECT_TRUE(same_bits(got, want)) << activation_name(act);
  }
}

TEST(ScalarMath, CpuActivationBackwardIsTheMathCopy) {
  const std::vector<float> g = values(kRows * kCols, -2.0f, 2.0f, 3);
  const std::vector<float> y = values(kRows * kCols, -1.5f, 1.5f, 4);
  for (const Activation& act : all_activations()) {
    std::vector<float> got = g, bias_grad(kCols, -1.0f);
    cpu::activation_backward_bias_grad(got.data(), y.data(), bias_grad.data(), kRows, kCols, act);
    std::vector<float> want(g.size()), want_bias(kCols, 0.0f);
    for (int i = 0; i < kRows * kCols; ++i) {
      want[i] = math::activation_grad(act.kind, g[i], y[i], act.alpha);
      want_bias[i % kCols] += want[i];  // rows in order
    }
    EXPECT_TRUE(same_bits(got, want)) << activation_name(act);
    EXPECT_TRUE(same_bits(bias_grad, want_bias)) << activation_name(act);
  }
}

struct Tensors {
  std::vector<float> w, s0, s1;
};

// Positive slots: adagrad's and rmsprop's accumulators are never negative.
Tensors start_tensors(size_t n) {
  return {values(n, -1.0f, 1.0f, 5), values(n, 0.01f, 1.0f, 6), values(n, 0.01f, 1.0f, 7)};
}

OptimizerScalars third_step() {
  OptimizerScalars s;
  s.step = 2;
  s.beta1_power = 0.9f * 0.9f * 0.9f;
  s.beta2_power = 0.999f * 0.999f * 0.999f;
  return s;
}

OptimizerConfig config(OptimizerKind kind, float clip_value) {
  OptimizerConfig c;
  c.kind = kind;
  c.learning_rate = 0.05f;
  c.rmsprop_momentum = 0.5f;  // so rmsprop's second slot takes part
  c.clip_value = clip_value;
  return c;
}

std::string what(const OptimizerConfig& c, float scale) {
  return optimizer_name(c.kind) + " clip " + std::to_string(c.clip_value) + " scale " + std::to_string(scale);
}

TEST(ScalarMath, CpuOptimizerUpdateIsTheMathCopy) {
  constexpr int n = 37;
  const std::vector<float> g = values(n, -0.2f, 0.2f, 8);
  const OptimizerScalars sc = third_step();
  for (OptimizerKind kind : kAllOptimizers) {
    for (float clip : {0.0f, 0.05f}) {
      for (float scale : {1.0f, 0.37f}) {
        const OptimizerConfig c = config(kind, clip);
        Tensors got = start_tensors(n), want = got;
        cpu::optimizer_update(c, sc, got.w.data(), g.data(), got.s0.data(), got.s1.data(), n, scale);
        const math::OptimizerHyper h = math::optimizer_hyper(c);
        const float lr_t = math::adam_lr_t(h, sc.beta1_power, sc.beta2_power);
        for (int i = 0; i < n; ++i) {
          math::update_element(h, lr_t, math::clip_gradient(g[i], scale, clip), want.w.data(),
                               want.s0.data(), want.s1.data(), i);
        }
        EXPECT_TRUE(same_bits(got.w, want.w)) << what(c, scale);
        EXPECT_TRUE(same_bits(got.s0, want.s0)) << what(c, scale);
        EXPECT_TRUE(same_bits(got.s1, want.s1)) << what(c, scale);
      }
    }
  }
}

// A two-layer fused Program over host memory (3 -> kCols -> 4), as
// fused::make_program builds it for the kernel and the emulator.
struct FusedNet {
  std::vector<DenseLayerShape> shapes;
  std::vector<std::vector<float>> buf;  // per layer: w, b, out, dz
  std::vector<fused::LayerMemory> memory;
  std::vector<double> tile_loss = std::vector<double>(kRows);
  std::vector<long long> tile_hits = std::vector<long long>(kRows);
  cuda::DeviceState state{};
  fused::Program p;

  FusedNet(const Activation& act, const OptimizerConfig& optimizer) {
    shapes = {{3, kCols, act}, {kCols, 4, Activation{ActivationKind::kIdentity, 0.2f}}};
    for (const DenseLayerShape& s : shapes) {
      for (int64_t size : {s.fan_in * s.fan_out, s.fan_out, kRows * s.fan_out, kRows * s.fan_out}) {
        buf.emplace_back(static_cast<size_t>(size), 0.0f);
      }
    }
    for (size_t l = 0; l < shapes.size(); ++l) {
      fused::LayerMemory m;
      m.w = buf[4 * l].data();
      m.b = buf[4 * l + 1].data();
      m.out = buf[4 * l + 2].data();
      m.dz = buf[4 * l + 3].data();
      memory.push_back(m);
    }
    p = fused::make_program(shapes, 0, std::vector<bool>(4, true), optimizer, memory,
                            tile_loss.data(), tile_hits.data(), &state, fused::Schedule::kPerLayer);
  }

  // A grid-phase task over rows 0..kRows-1 whose K-slice partial sums are
  // `sums` in slice 0 and zeros elsewhere, so each reduced sum is sums[i].
  fused::TaskPos task_with_sums(const std::vector<float>& sums, std::vector<float>& smem) const {
    fused::TaskPos t;
    t.tile = {fused::kHiddenTileCols, fused::kThreads / fused::kHiddenTileCols};
    t.r0 = 0;
    t.rows = kRows;
    t.c0 = 0;
    t.row_tile = 0;
    smem.assign(fused::kSmemFloats, 0.0f);
    for (int rr = 0; rr < kRows; ++rr) {
      for (int c = 0; c < kCols; ++c) *fused::detail::partial_at(smem.data(), t.tile, 0, rr, c) = sums[rr * kCols + c];
    }
    return t;
  }
};

static_assert(kCols <= fused::kHiddenTileCols && kRows <= fused::kTileRows, "one task covers the layer");

// z + 0 == z for every test value (no -0): the fused sum over the slices then
// equals the CPU's input exactly.
TEST(ScalarMath, FusedForwardActivationIsTheCpuOne) {
  const std::vector<float> z = values(kRows * kCols, -5.0f, 5.0f, 9);
  const std::vector<float> bias = values(kCols, -0.5f, 0.5f, 10);
  for (const Activation& act : all_activations()) {
    FusedNet net(act, OptimizerConfig{});
    net.buf[1] = bias;
    std::vector<float> smem;
    const fused::TaskPos t = net.task_with_sums(z, smem);
    for (int tid = 0; tid < fused::kThreads; ++tid) fused::detail::forward_reduce(net.p, 0, t, tid, smem.data());
    std::vector<float> want = z;
    cpu::bias_activation_forward(want.data(), bias.data(), kRows, kCols, act);
    EXPECT_TRUE(same_bits(net.buf[2], want)) << activation_name(act);
  }
}

TEST(ScalarMath, FusedActivationGradIsTheCpuOne) {
  const std::vector<float> g = values(kRows * kCols, -2.0f, 2.0f, 11);
  const std::vector<float> y = values(kRows * kCols, -1.5f, 1.5f, 12);
  for (const Activation& act : all_activations()) {
    FusedNet net(act, OptimizerConfig{});
    net.buf[2] = y;  // layer 0's output
    std::vector<float> smem;
    const fused::TaskPos t = net.task_with_sums(g, smem);
    for (int tid = 0; tid < fused::kThreads; ++tid) fused::detail::input_grad_reduce(net.p, 1, t, tid, smem.data());
    std::vector<float> want = g, bias_grad(kCols);
    cpu::activation_backward_bias_grad(want.data(), y.data(), bias_grad.data(), kRows, kCols, act);
    EXPECT_TRUE(same_bits(net.buf[3], want)) << activation_name(act);
  }
}

TEST(ScalarMath, FusedUpdateIsTheCpuOne) {
  constexpr int n = 37;
  const std::vector<float> g = values(n, -0.2f, 0.2f, 13);
  const OptimizerScalars sc = third_step();
  for (OptimizerKind kind : kAllOptimizers) {
    for (float clip : {0.0f, 0.05f}) {
      const OptimizerConfig c = config(kind, clip);
      const FusedNet net(Activation{}, c);  // the fused step's hyper-parameters
      Tensors got = start_tensors(n), want = got;
      const fused::StepScalars step{sc.beta1_power, sc.beta2_power};
      for (int i = 0; i < n; ++i) {
        fused::apply_update(net.p.hyper, step, g[i], got.w.data(), got.s0.data(), got.s1.data(), i);
      }
      cpu::optimizer_update(c, sc, want.w.data(), g.data(), want.s0.data(), want.s1.data(), n, 1.0f);
      EXPECT_TRUE(same_bits(got.w, want.w)) << what(c, 1.0f);
      EXPECT_TRUE(same_bits(got.s0, want.s0)) << what(c, 1.0f);
      EXPECT_TRUE(same_bits(got.s1, want.s1)) << what(c, 1.0f);
    }
  }
}

TEST(ScalarMath, GlobalNormScale) {
  EXPECT_EQ(math::global_norm_scale(2.0f, 1.0), 1.0f);   // under the norm: unchanged
  EXPECT_EQ(math::global_norm_scale(2.0f, 8.0), 0.25f);  // N / norm
  EXPECT_TRUE(std::isnan(math::global_norm_scale(2.0f, std::numeric_limits<double>::infinity())));
  EXPECT_TRUE(std::isnan(math::global_norm_scale(2.0f, std::nan(""))));
}

TEST(ScalarMath, ClipByValueKeepsNaNAndIsOffAtZero) {
  EXPECT_EQ(math::clip_by_value(3.0f, 0.0f), 3.0f);
  EXPECT_EQ(math::clip_by_value(3.0f, 0.5f), 0.5f);
  EXPECT_EQ(math::clip_by_value(-3.0f, 0.5f), -0.5f);
  EXPECT_EQ(math::clip_by_value(0.25f, 0.5f), 0.25f);
  EXPECT_TRUE(std::isnan(math::clip_by_value(std::nanf(""), 0.5f)));
}

}  // namespace
}  // namespace graft
