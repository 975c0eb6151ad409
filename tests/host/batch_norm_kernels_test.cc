// Batch normalization's CPU kernels (host/cpu/batch_norm_kernels.h): hand-
// computed examples of the statistics and of TF's moving-average rule, the
// forward against an independent double-precision evaluation, and the
// backward against central differences of that double evaluation (fused
// identity, relu and elu; with and without gamma and beta).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "checkpoint/error.h"
#include "host/cpu/batch_norm_kernels.h"
#include "host/model/activation.h"
#include "tests/host/mlp_reference.h"

namespace graft {
namespace {

constexpr float kEps = 0.001f;  // tf.layers.batch_normalization's default

std::vector<float> uniform(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

TEST(BatchNormKernels, TrainStatisticsOfAHandExample) {
  // One column [1, 2, 3, 6]: mean 3, biased variance (4 + 1 + 0 + 9) / 4 = 3.5
  // (TF's nn.moments divides by N); a second column, constant 5: variance 0.
  const std::vector<float> x = {1, 5, 2, 5, 3, 5, 6, 5};
  std::vector<float> y(8), mean(2), var(2), rstd(2);
  cpu::batch_norm_forward_train(x.data(), 4, 2, nullptr, nullptr, kEps, Activation{ActivationKind::kIdentity},
                                y.data(), mean.data(), var.data(), rstd.data());
  EXPECT_EQ(mean[0], 3.0f);
  EXPECT_EQ(var[0], 3.5f);
  EXPECT_EQ(rstd[0], 1.0f / sqrtf(3.5f + kEps));
  EXPECT_EQ(mean[1], 5.0f);
  EXPECT_EQ(var[1], 0.0f);
  EXPECT_EQ(y[1], 0.0f);  // (5 - 5) * rstd
  // y = (x - 3) / sqrt(3.5 + 0.001), in double to 1e-6 (a few float roundings).
  const double s = 1.0 / std::sqrt(3.5 + 0.001);
  for (int r = 0; r < 4; ++r) EXPECT_NEAR(y[2 * r], (x[2 * r] - 3.0) * s, 1e-6) << r;
}

TEST(BatchNormKernels, MovingAveragesFollowTensorFlowsRule) {
  // moving -= (moving - batch) * (1 - momentum): 1 - (1 - 3) * 0.01 = 1.02;
  // decay is TF's float32(1 - momentum), computed in double: 0.01f.
  float mean = 1.0f, var = 1.0f;
  const float batch_mean = 3.0f, batch_var = 3.0f;
  cpu::batch_norm_update_moving(&mean, &var, &batch_mean, &batch_var, 4, 1, 0.99, false);
  EXPECT_EQ(mean, 1.02f);
  EXPECT_EQ(var, 1.02f);
  // Bessel's correction: 3 * (4 / 3) = 4 (float(4/3) * 3 rounds to 4), so
  // the variance moves to 1 + 3 * 0.01 = 1.03; the mean is not corrected.
  mean = 1.0f;
  var = 1.0f;
  cpu::batch_norm_update_moving(&mean, &var, &batch_mean, &batch_var, 4, 1, 0.99f, true);
  EXPECT_EQ(mean, 1.02f);
  EXPECT_EQ(var, 1.03f);
  // Momentum 0: the moving statistics become the batch's.
  cpu::batch_norm_update_moving(&mean, &var, &batch_mean, &batch_var, 4, 1, 0.0f, false);
  EXPECT_EQ(mean, 3.0f);
  EXPECT_EQ(var, 3.0f);
  EXPECT_THROW(cpu::batch_norm_update_moving(&mean, &var, &batch_mean, &batch_var, 1, 1, 0.99f, true), Error);
  // A large step shows the decay itself: TF's 0.01f (float32 of the double
  // 1 - 0.99) gives 1e6 * 0.01f; 1.0f - 0.99f = 0.00999999046 would give 9999.99.
  mean = 0.0f;
  var = 0.0f;
  const float big = 1e6f;
  cpu::batch_norm_update_moving(&mean, &var, &big, &big, 4, 1, 0.99, false);
  EXPECT_EQ(mean, 0.0f - (0.0f - big) * 0.01f);
  EXPECT_NE(mean, 0.0f - (0.0f - big) * (1.0f - 0.99f));
}

TEST(BatchNormKernels, InferenceUsesTheMovingStatistics) {
  // gamma 2, beta 0.5, moving mean 1, moving variance 4 - eps: y = relu(2 (x - 1) / 2 + 0.5).
  const float gamma = 2.0f, beta = 0.5f, mm = 1.0f, mv = 4.0f - kEps;
  const std::vector<float> x = {3.0f, 1.0f, -2.0f};
  std::vector<float> y(3);
  cpu::batch_norm_forward_infer(x.data(), 3, 1, &gamma, &beta, &mm, &mv, kEps, Activation{ActivationKind::kRelu},
                                y.data());
  EXPECT_NEAR(y[0], 2.5f, 1e-6);
  EXPECT_NEAR(y[1], 0.5f, 1e-6);
  EXPECT_EQ(y[2], 0.0f);  // relu(-2.5)
}

// An independent double-precision batch norm in training mode.
struct Reference {
  int64_t rows, cols;
  Activation act;
  bool scale, center;
  std::vector<double> forward(const std::vector<double>& x, const std::vector<double>& gamma,
                              const std::vector<double>& beta) const {
    std::vector<double> y(x.size());
    for (int64_t c = 0; c < cols; ++c) {
      double m = 0, v = 0;
      for (int64_t r = 0; r < rows; ++r) m += x[r * cols + c];
      m /= rows;
      for (int64_t r = 0; r < rows; ++r) v += (x[r * cols + c] - m) * (x[r * cols + c] - m);
      v /= rows;
      for (int64_t r = 0; r < rows; ++r) {
        const double z = (x[r * cols + c] - m) / std::sqrt(v + kEps) * (scale ? gamma[c] : 1.0) +
                         (center ? beta[c] : 0.0);
        y[r * cols + c] = test::reference_activation(act, z);
      }
    }
    return y;
  }
  double loss(const std::vector<double>& x, const std::vector<double>& gamma, const std::vector<double>& beta,
              const std::vector<double>& w) const {
    const std::vector<double> y = forward(x, gamma, beta);
    double l = 0;
    for (size_t i = 0; i < y.size(); ++i) l += w[i] * y[i];
    return l;
  }
};

// d loss / d v[i] by central differences (h = 1e-5: truncation ~h^2, roundoff ~1e-16 / h).
template <typename F>
std::vector<double> numeric(std::vector<double>& v, F&& f) {
  constexpr double h = 1e-5;
  std::vector<double> g(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const double keep = v[i];
    v[i] = keep + h;
    const double up = f();
    v[i] = keep - h;
    const double down = f();
    v[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

// The float kernel against the double derivative: ~10 float operations per
// term over sums of `rows` terms give a relative error near 1e-6 of the
// gradient's scale; 1e-4 of the largest component leaves room for that and
// catches any wrong term (a missing xhat * sum term is an O(1) error).
void expect_gradient(const std::vector<float>& got, const std::vector<double>& want, const char* what) {
  double scale = 0;
  for (double v : want) scale = std::max(scale, std::fabs(v));
  ASSERT_GT(scale, 0.0) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], 1e-4 * scale) << what << "[" << i << "]";
  }
}

void check_backward(ActivationKind kind, bool scale, bool center) {
  SCOPED_TRACE(activation_name(Activation{kind}) + (scale ? " gamma" : " no-gamma") + (center ? " beta" : " no-beta"));
  const int64_t rows = 7, cols = 5;
  const Reference ref{rows, cols, Activation{kind}, scale, center};
  const std::vector<float> x = uniform(rows * cols, -1.0f, 2.0f, 11);
  const std::vector<float> gamma = uniform(cols, 0.5f, 1.5f, 12);
  const std::vector<float> beta = uniform(cols, -0.5f, 0.5f, 13);
  const std::vector<float> w = uniform(rows * cols, -1.0f, 1.0f, 14);  // dy = d(sum w * y) / dy

  std::vector<float> y(rows * cols), mean(cols), var(cols), rstd(cols);
  const float* g = scale ? gamma.data() : nullptr;
  const float* b = center ? beta.data() : nullptr;
  cpu::batch_norm_forward_train(x.data(), rows, cols, g, b, kEps, ref.act, y.data(), mean.data(), var.data(),
                                rstd.data());
  std::vector<double> xd(x.begin(), x.end()), gd(gamma.begin(), gamma.end()), bd(beta.begin(), beta.end()),
      wd(w.begin(), w.end());
  // The forward against the double evaluation: y is O(1), the float path
  // rounds a few times (and expf's ulp): 1e-5 absolute.
  const std::vector<double> yd = ref.forward(xd, gd, bd);
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], yd[i], 1e-5) << "y[" << i << "]";

  std::vector<float> dx(rows * cols), dgamma(cols), dbeta(cols);
  cpu::batch_norm_backward(w.data(), y.data(), ref.act, x.data(), mean.data(), rstd.data(), g, rows, cols,
                           dx.data(), dgamma.data(), dbeta.data());
  expect_gradient(dx, numeric(xd, [&] { return ref.loss(xd, gd, bd, wd); }), "dx");
  if (scale) expect_gradient(dgamma, numeric(gd, [&] { return ref.loss(xd, gd, bd, wd); }), "dgamma");
  if (center) expect_gradient(dbeta, numeric(bd, [&] { return ref.loss(xd, gd, bd, wd); }), "dbeta");

  // The nullable outputs: the same numbers with the others left out, and
  // dx computed in place over dy.
  std::vector<float> dgamma_only(cols), in_place(w);
  cpu::batch_norm_backward(w.data(), y.data(), ref.act, x.data(), mean.data(), rstd.data(), g, rows, cols,
                           nullptr, dgamma_only.data(), nullptr);
  EXPECT_EQ(dgamma_only, dgamma);
  cpu::batch_norm_backward(in_place.data(), y.data(), ref.act, x.data(), mean.data(), rstd.data(), g, rows, cols,
                           in_place.data(), nullptr, nullptr);
  EXPECT_EQ(in_place, dx);
}

TEST(BatchNormKernels, BackwardMatchesCentralDifferences) {
  for (ActivationKind kind : {ActivationKind::kIdentity, ActivationKind::kRelu, ActivationKind::kElu}) {
    check_backward(kind, true, true);
    check_backward(kind, false, false);
    check_backward(kind, true, false);
  }
}

TEST(BatchNormKernels, ForwardMayAliasItsInput) {
  const int64_t rows = 9, cols = 13;
  const std::vector<float> x = uniform(rows * cols, -3.0f, 3.0f, 5);
  std::vector<float> y(x.size()), in_place(x), m(cols), v(cols), s(cols);
  const Activation elu{ActivationKind::kElu};
  cpu::batch_norm_forward_train(x.data(), rows, cols, nullptr, nullptr, kEps, elu, y.data(), m.data(), v.data(),
                                s.data());
  cpu::batch_norm_forward_train(in_place.data(), rows, cols, nullptr, nullptr, kEps, elu, in_place.data(),
                                m.data(), v.data(), s.data());
  EXPECT_EQ(in_place, y);
}

}  // namespace
}  // namespace graft
