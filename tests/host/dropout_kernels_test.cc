// Dropout's CPU kernels (host/cpu/dropout_kernels.h) and the counter-based
// generator under them (host/math/counter_rng.h): Philox-4x32-10 against
// Random123's published known-answer vectors (kat_vectors, also in TF's
// philox_random_test), the keep fraction, independence of the masks across
// seed / step / node, the backward's mask equal to the forward's, and the
// backward against central differences of the forward.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "checkpoint/error.h"
#include "host/cpu/dropout_kernels.h"
#include "host/math/counter_rng.h"

namespace graft {
namespace {

std::vector<float> uniform(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

TEST(CounterRng, PhiloxMatchesRandom123KnownAnswers) {
  struct Kat {
    math::Philox4x32 counter;
    uint32_t k0, k1;
    uint32_t want[4];
  };
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, 0, 0, {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
      {{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}}, 0xffffffffu, 0xffffffffu,
       {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
      {{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u, 0x299f31d0u,
       {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
  };
  for (const Kat& k : kats) {
    const math::Philox4x32 r = math::philox4x32_10(k.counter, k.k0, k.k1);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(r.v[i], k.want[i]) << "word " << i;
  }
}

TEST(CounterRng, UniformIsIn01AndUses24Bits) {
  for (uint32_t c = 0; c < 10000; ++c) {
    const float u = math::counter_uniform(7, 3, 2, 1, c);
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    ASSERT_EQ(u * 16777216.0f, std::floor(u * 16777216.0f));  // a multiple of 2^-24
  }
}

// Counts y's zeros (x has none).
int64_t dropped(const std::vector<float>& y) {
  int64_t n = 0;
  for (float v : y) n += v == 0.0f ? 1 : 0;
  return n;
}

TEST(DropoutKernels, KeepsAboutOneMinusRateAndScalesTheKept) {
  // 1000 x 1000 elements, rate 0.3: kept ~ Binomial(1e6, 0.7), standard
  // deviation sqrt(1e6 * 0.7 * 0.3) = 458, i.e. 4.6e-4 of the fraction; the
  // bound 0.003 is 6.5 standard deviations (the run is deterministic, so it
  // cannot flake: it fails only for a biased generator or a wrong threshold,
  // e.g. keeping with probability rate instead of 1 - rate).
  const int64_t rows = 1000, cols = 1000;
  const std::vector<float> x = uniform(rows * cols, 0.5f, 1.5f, 1);
  std::vector<float> y(x.size());
  const float rate = 0.3f;
  cpu::dropout_forward(x.data(), rows, cols, rate, 42, 0, 0, y.data());
  const double kept = 1.0 - static_cast<double>(dropped(y)) / static_cast<double>(x.size());
  EXPECT_NEAR(kept, 0.7, 0.003);
  const float inv_keep = 1.0f / (1.0f - rate);
  for (size_t i = 0; i < y.size(); ++i) {
    if (y[i] != 0.0f) ASSERT_EQ(y[i], x[i] * inv_keep) << i;
  }
}

// The fraction of positions where two masks of keep probability 0.7 differ:
// 2 * 0.7 * 0.3 = 0.42 for independent masks (0 for equal ones); over 1e5
// elements its standard deviation is 0.0016, the bound 0.01 six of them.
double mask_difference(uint64_t seed, uint64_t step, uint32_t node, uint64_t seed2, uint64_t step2, uint32_t node2) {
  const int64_t rows = 200, cols = 500;
  const std::vector<float> ones(rows * cols, 1.0f);
  std::vector<float> a(ones.size()), b(ones.size());
  cpu::dropout_forward(ones.data(), rows, cols, 0.3f, seed, step, node, a.data());
  cpu::dropout_forward(ones.data(), rows, cols, 0.3f, seed2, step2, node2, b.data());
  int64_t differ = 0;
  for (size_t i = 0; i < a.size(); ++i) differ += (a[i] == 0.0f) != (b[i] == 0.0f) ? 1 : 0;
  return static_cast<double>(differ) / static_cast<double>(a.size());
}

TEST(DropoutKernels, MasksDifferAcrossSeedStepAndNode) {
  EXPECT_EQ(mask_difference(5, 9, 1, 5, 9, 1), 0.0);
  EXPECT_NEAR(mask_difference(5, 9, 1, 6, 9, 1), 0.42, 0.01);                    // seed
  EXPECT_NEAR(mask_difference(5, 9, 1, 5, 10, 1), 0.42, 0.01);                   // step
  EXPECT_NEAR(mask_difference(5, 9, 1, 5, 9, 2), 0.42, 0.01);                    // node
  EXPECT_NEAR(mask_difference(5, 9, 1, 5, 9 + (uint64_t{1} << 32), 1), 0.42, 0.01);  // step's high word
  EXPECT_NEAR(mask_difference(5, 9, 1, 5 + (uint64_t{1} << 32), 9, 1), 0.42, 0.01);  // seed's high word
}

TEST(DropoutKernels, BackwardUsesTheForwardsMaskInPlace) {
  const int64_t rows = 37, cols = 129;
  const std::vector<float> x = uniform(rows * cols, 0.5f, 1.5f, 2);
  std::vector<float> y(x), g(x.size(), 1.0f);
  cpu::dropout_forward(y.data(), rows, cols, 0.5f, 3, 4, 5, y.data());  // in place
  cpu::dropout_backward(g.data(), rows, cols, 0.5f, 3, 4, 5, g.data());  // in place
  ASSERT_GT(dropped(y), 0);
  for (size_t i = 0; i < y.size(); ++i) {
    ASSERT_EQ(y[i] == 0.0f, g[i] == 0.0f) << i;
    if (g[i] != 0.0f) ASSERT_EQ(g[i], 2.0f) << i;  // 1 / (1 - 0.5)
  }
}

TEST(DropoutKernels, BackwardMatchesCentralDifferences) {
  // loss = sum w * dropout(x), evaluated in double from the float forward;
  // h = 2^-6 is exact in float, and the forward is linear, so the difference
  // quotient is exact up to the rounding of x * inv_keep (2^-24 relative).
  const int64_t rows = 5, cols = 7;
  std::vector<float> x = uniform(rows * cols, -1.0f, 1.0f, 3);
  const std::vector<float> w = uniform(rows * cols, -1.0f, 1.0f, 4);
  const float rate = 0.4f;
  auto loss = [&] {
    std::vector<float> y(x.size());
    cpu::dropout_forward(x.data(), rows, cols, rate, 8, 1, 2, y.data());
    double l = 0;
    for (size_t i = 0; i < y.size(); ++i) l += static_cast<double>(w[i]) * y[i];
    return l;
  };
  std::vector<float> dx(x.size());
  cpu::dropout_backward(w.data(), rows, cols, rate, 8, 1, 2, dx.data());
  const float h = 1.0f / 64.0f;
  for (size_t i = 0; i < x.size(); ++i) {
    const float keep = x[i];
    x[i] = keep + h;
    const double up = loss();
    x[i] = keep - h;
    const double down = loss();
    x[i] = keep;
    EXPECT_NEAR(dx[i], (up - down) / (2.0 * h), 1e-5) << i;
  }
}

TEST(DropoutKernels, RateZeroIsTheIdentityAndBadRatesAreRefused) {
  const std::vector<float> x = uniform(6, -1.0f, 1.0f, 9);
  std::vector<float> y(6);
  cpu::dropout_forward(x.data(), 2, 3, 0.0f, 1, 2, 3, y.data());
  EXPECT_EQ(y, x);
  EXPECT_THROW(cpu::dropout_forward(x.data(), 2, 3, 1.0f, 1, 2, 3, y.data()), Error);
  EXPECT_THROW(cpu::dropout_backward(x.data(), 2, 3, -0.1f, 1, 2, 3, y.data()), Error);
  EXPECT_THROW(cpu::dropout_forward(x.data(), 2, 3, NAN, 1, 2, 3, y.data()), Error);
}

}  // namespace
}  // namespace graft
