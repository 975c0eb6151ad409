// TF1's variance_scaling and lecun_normal initializers, checked
// statistically (the RNG is graft's own, the distribution is TF1's,
// init_ops.py VarianceScaling): 200 000 draws give the standard deviation
// to about 0.2% (relative standard error 1/sqrt(2N)), so 1% tolerances
// fail for any wrong constant (a missing /0.8796 is 12% off, a wrong fan
// tens of percent).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "checkpoint/error.h"
#include "host/model/initializers.h"

namespace graft {
namespace {

constexpr int64_t kDraws = 200000;

struct Stats {
  double mean = 0, stddev = 0, max_abs = 0, within_one = 0;  // within_one: fraction with |x| < `unit`
};

Stats draw(Initializer init, const VarianceScaling& vs, int64_t fan_in, int64_t fan_out, double unit) {
  std::vector<float> v(kDraws);
  fill_initial_values(init, fan_in, fan_out, 1234, v.data(), kDraws, vs);
  Stats s;
  for (float x : v) s.mean += x;
  s.mean /= kDraws;
  for (float x : v) {
    s.stddev += (x - s.mean) * (x - s.mean);
    s.max_abs = std::max(s.max_abs, std::fabs(static_cast<double>(x)));
    s.within_one += std::fabs(x) < unit ? 1 : 0;
  }
  s.stddev = std::sqrt(s.stddev / kDraws);
  s.within_one /= kDraws;
  return s;
}

TEST(VarianceScaling, TruncatedNormalHasStddevSqrtScaleOverFanAsTf1) {
  VarianceScaling he;
  he.scale = 2.0;  // TF1's He initialization
  const double target = std::sqrt(2.0 / 100);   // the stddev after truncation
  const double sigma = target / .87962566103423978;  // of the normal before truncation
  const Stats s = draw(Initializer::kVarianceScaling, he, 100, 300, sigma);
  EXPECT_NEAR(s.stddev, target, 0.01 * target);
  EXPECT_NEAR(s.mean, 0.0, 5 * target / std::sqrt(kDraws));
  EXPECT_LE(s.max_abs, 2 * sigma * (1 + 1e-6));  // truncated at two of the normal's stddevs
  EXPECT_GT(s.max_abs, 1.95 * sigma);
  // P(|z| < 1 | |z| <= 2) = 0.682689 / 0.954500 for a unit normal.
  EXPECT_NEAR(s.within_one, 0.682689492 / 0.954499736, 0.005);
}

TEST(VarianceScaling, ModesAndDistributions) {
  VarianceScaling v;
  v.scale = 3.0;
  v.mode = VarianceScaling::Mode::kFanAvg;
  v.distribution = VarianceScaling::Distribution::kUniform;
  const double avg = std::sqrt(3.0 / 200);  // (100 + 300) / 2
  Stats s = draw(Initializer::kVarianceScaling, v, 100, 300, 1.0);
  EXPECT_NEAR(s.stddev, avg, 0.01 * avg);  // U(-l, l), l = sqrt(3 * scale / n): stddev sqrt(scale / n)
  EXPECT_LE(s.max_abs, std::sqrt(3.0) * avg * (1 + 1e-6));
  EXPECT_GT(s.max_abs, 0.999 * std::sqrt(3.0) * avg);

  v.mode = VarianceScaling::Mode::kFanOut;
  v.distribution = VarianceScaling::Distribution::kUntruncatedNormal;
  const double out = std::sqrt(3.0 / 300);
  s = draw(Initializer::kVarianceScaling, v, 100, 300, out);
  EXPECT_NEAR(s.stddev, out, 0.01 * out);
  EXPECT_GT(s.max_abs, 3.5 * out);  // not truncated: 200 000 normals reach beyond 3.5 sigma
  EXPECT_NEAR(s.within_one, 0.682689492, 0.005);
}

TEST(VarianceScaling, LecunNormalIsScaleOneFanInTruncated) {
  const double target = std::sqrt(1.0 / 784);
  VarianceScaling ignored;
  ignored.scale = 7;  // lecun_normal uses its own settings
  const Stats s = draw(Initializer::kLecunNormal, ignored, 784, 300, target / .87962566103423978);
  EXPECT_NEAR(s.stddev, target, 0.01 * target);
  EXPECT_LE(s.max_abs, 2 * target / .87962566103423978 * (1 + 1e-6));
}

TEST(VarianceScaling, ParsesItsSettingsAndNamesBadOnes) {
  const VarianceScaling v = parse_variance_scaling("scale=2,mode=fan_avg,distribution=uniform");
  EXPECT_EQ(v.scale, 2.0);
  EXPECT_EQ(variance_scaling_text(v), "scale=2,mode=fan_avg,distribution=uniform");
  EXPECT_EQ(variance_scaling_text(parse_variance_scaling("")), "scale=1,mode=fan_in,distribution=truncated_normal");
  EXPECT_EQ(parse_initializer("variance_scaling"), Initializer::kVarianceScaling);
  EXPECT_EQ(parse_initializer("lecun_normal"), Initializer::kLecunNormal);
  for (const char* bad : {"scale=0", "mode=fan", "distribution=gauss", "seed=3"}) {
    EXPECT_THROW(parse_variance_scaling(bad), Error) << bad;
  }
}

}  // namespace
}  // namespace graft
