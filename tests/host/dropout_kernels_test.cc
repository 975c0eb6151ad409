// Dropout's CPU kernels (host/cpu/dropout_kernels.h) and the counter-based
// generator under them (host/math/counter_rng.h): Philox-4x32-10 against
// Random123's published known-answer vectors (kat_vectors, also in TF's
// philox_random_test), the element -> (counter, word) contract, every SIMD
// variant of the CPU loop bit-identical to the per-element function, TF's
// keep rule and scale, the keep fraction, independence of the masks across
// seed / step / node / row / column group and within a group's four words,
// the backward's mask equal to the forward's, and the backward against
// central differences of the forward.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "checkpoint/error.h"
#include "host/cpu/dropout_kernels.h"
#include "host/cpu/dropout_variants.h"
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

TEST(CounterRng, ElementTakesWordColumnMod4OfItsGroupsCall) {
  // The contract, written out independently of counter_rng.h's helpers:
  // key (seed_lo, seed_hi ^ (node * 0x85EBCA6B + 0x27D4EB2F)), counter
  // (column / 4, row, step_lo, step_hi), word column % 4, top 24 bits.
  const uint64_t seed = 0x0123456789abcdefull, step = (uint64_t{7} << 32) | 99u;
  const uint32_t node = 5;
  for (uint32_t row : {0u, 1u, 4095u}) {
    for (uint32_t col = 0; col < 37; ++col) {
      const math::Philox4x32 counter = {{col / 4, row, static_cast<uint32_t>(step), static_cast<uint32_t>(step >> 32)}};
      const uint32_t k1 = static_cast<uint32_t>(seed >> 32) ^ (node * 0x85EBCA6Bu + 0x27D4EB2Fu);
      const uint32_t w = math::philox4x32_10(counter, static_cast<uint32_t>(seed), k1).v[col % 4];
      const float want = static_cast<float>(w >> 8) / 16777216.0f;
      ASSERT_EQ(math::counter_uniform(seed, step, node, row, col), want) << row << "," << col;
      ASSERT_EQ(math::counter_uniforms4(seed, step, node, row, col / 4).u[col % 4], want) << row << "," << col;
    }
  }
}

TEST(CounterRng, TheFourWordsOfAGroupAreNotTriviallyCorrelated) {
  // Over 100 000 rows of group 3: each pair of the four uniforms has a
  // correlation coefficient near 0 (standard deviation 1/sqrt(n) = 0.0032,
  // bound 0.02 six of them), and the four keep decisions at rate 0.3 are all
  // equal in 0.7^4 + 0.3^4 = 0.2482 of the rows (standard deviation 0.0014;
  // bound 0.01), not in all of them, as one word copied four times would.
  const int n = 100000;
  double sum[4] = {}, sum2[4][4] = {};
  int all_equal = 0;
  for (int r = 0; r < n; ++r) {
    const math::Uniform4 u = math::counter_uniforms4(11, 12, 13, static_cast<uint32_t>(r), 3);
    for (int a = 0; a < 4; ++a) {
      sum[a] += u.u[a];
      for (int b = 0; b < 4; ++b) sum2[a][b] += static_cast<double>(u.u[a]) * u.u[b];
    }
    const bool k0 = math::dropout_keeps(u.u[0], 0.3f);
    all_equal += (math::dropout_keeps(u.u[1], 0.3f) == k0 && math::dropout_keeps(u.u[2], 0.3f) == k0 &&
                  math::dropout_keeps(u.u[3], 0.3f) == k0)
                     ? 1
                     : 0;
  }
  for (int a = 0; a < 4; ++a) {
    for (int b = a + 1; b < 4; ++b) {
      const double ma = sum[a] / n, mb = sum[b] / n;
      const double cov = sum2[a][b] / n - ma * mb;
      const double corr = cov / std::sqrt((sum2[a][a] / n - ma * ma) * (sum2[b][b] / n - mb * mb));
      EXPECT_NEAR(corr, 0.0, 0.02) << "words " << a << " and " << b;
    }
  }
  EXPECT_NEAR(static_cast<double>(all_equal) / n, 0.2482, 0.01);
}

TEST(CounterRng, DropoutScaleIsTensorFlowsDoubleQuotientInFloat) {
  // TF: scale = 1 / (1 - rate) on the Python double, converted to float32.
  // Some rates tell it apart from the all-float 1.0f / (1.0f - rate).
  int differing = 0;
  for (int i = 1; i < 100; ++i) {
    const float rate = static_cast<float>(i) / 100.0f;
    const float want = static_cast<float>(1.0 / (1.0 - static_cast<double>(rate)));
    ASSERT_EQ(math::dropout_scale(rate), want) << rate;
    differing += want != 1.0f / (1.0f - rate) ? 1 : 0;
  }
  EXPECT_GT(differing, 0);
}

// Counts y's zeros (x has none).
int64_t dropped(const std::vector<float>& y) {
  int64_t n = 0;
  for (float v : y) n += v == 0.0f ? 1 : 0;
  return n;
}

// Bit equality (EXPECT_EQ on floats would also pass -0 vs +0).
bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// The kernel's result for element (r, c) from the per-element function: TF's
// rule (kept when uniform >= rate) and scale.
float reference(float x, float rate, uint64_t seed, uint64_t step, uint32_t node, int64_t r, int64_t c) {
  const float u = math::counter_uniform(seed, step, node, static_cast<uint32_t>(r), static_cast<uint32_t>(c));
  const float scale = static_cast<float>(1.0 / (1.0 - static_cast<double>(rate)));
  return u >= rate ? x * scale : x * 0.0f;
}

TEST(DropoutKernels, EveryVariantMatchesThePerElementFunctionBitForBit) {
  // Odd widths around the loop's 4-column groups and 64-column batches;
  // negative inputs (a dropped one is -0); in place and out of place.
  int ran = 0;
  for (int v = 0; v < cpu::dropout_variants::count(); ++v) {
    if (!cpu::dropout_variants::supported(v)) continue;
    ++ran;
    for (int64_t cols : {1, 3, 4, 5, 63, 64, 65, 129, 300}) {
      SCOPED_TRACE(::testing::Message() << cpu::dropout_variants::name(v) << " cols " << cols);
      const int64_t rows = 9;
      const std::vector<float> x = uniform(rows * cols, -1.0f, 1.0f, static_cast<uint32_t>(cols));
      std::vector<float> y(x.size()), in_place(x);
      const uint64_t seed = 0xfeedf00d12345678ull, step = (uint64_t{3} << 32) + 17;
      cpu::dropout_variants::forward(v, x.data(), rows, cols, 0.3f, seed, step, 4, y.data());
      cpu::dropout_variants::forward(v, in_place.data(), rows, cols, 0.3f, seed, step, 4, in_place.data());
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c) {
          const size_t i = static_cast<size_t>(r * cols + c);
          const float want = reference(x[i], 0.3f, seed, step, 4, r, c);
          ASSERT_TRUE(same_bits(y[i], want)) << r << "," << c << ": " << y[i] << " vs " << want;
          ASSERT_TRUE(same_bits(in_place[i], want)) << r << "," << c;
        }
      }
    }
  }
  EXPECT_GE(ran, 1);
  // The public entry points use the chosen variant.
  const std::vector<float> x = uniform(7 * 65, -1.0f, 1.0f, 5);
  std::vector<float> a(x.size()), b(x.size());
  cpu::dropout_forward(x.data(), 7, 65, 0.6f, 1, 2, 3, a.data());
  cpu::dropout_variants::forward(cpu::dropout_variants::chosen(), x.data(), 7, 65, 0.6f, 1, 2, 3, b.data());
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
  EXPECT_THROW(cpu::dropout_variants::forward(-1, x.data(), 7, 65, 0.6f, 1, 2, 3, b.data()), Error);
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
  const float scale = static_cast<float>(1.0 / (1.0 - static_cast<double>(rate)));  // TF's
  for (size_t i = 0; i < y.size(); ++i) {
    if (y[i] != 0.0f) ASSERT_EQ(y[i], x[i] * scale) << i;
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

TEST(DropoutKernels, MasksDifferAcrossRowsAndColumnGroups) {
  // Within one mask: element (r, c) against (r + 1, c) (the counter's row
  // word) and against (r, c + 4) (the next group, the counter's first word):
  // independent masks differ in 0.42 of the positions (bounds as above).
  const int64_t rows = 201, cols = 504;
  const std::vector<float> ones(rows * cols, 1.0f);
  std::vector<float> m(ones.size());
  cpu::dropout_forward(ones.data(), rows, cols, 0.3f, 5, 9, 1, m.data());
  int64_t by_row = 0, by_group = 0, n_row = 0, n_group = 0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const bool kept = m[r * cols + c] != 0.0f;
      if (r + 1 < rows) {
        by_row += kept != (m[(r + 1) * cols + c] != 0.0f) ? 1 : 0;
        ++n_row;
      }
      if (c + 4 < cols) {
        by_group += kept != (m[r * cols + c + 4] != 0.0f) ? 1 : 0;
        ++n_group;
      }
    }
  }
  EXPECT_NEAR(static_cast<double>(by_row) / n_row, 0.42, 0.01);
  EXPECT_NEAR(static_cast<double>(by_group) / n_group, 0.42, 0.01);
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
