// Sparse softmax cross-entropy and top-1 accuracy: values against a double
// reference, the gradient against double finite differences, stability on
// huge logits, and TF's in_top_k rules (ties hit, non-finite rows miss).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "host/cpu/reference_kernels.h"

namespace graft {
namespace {

double reference_loss(const std::vector<double>& logits, int label) {
  double m = logits[0];
  for (double l : logits) m = std::max(m, l);
  double sum = 0;
  for (double l : logits) sum += std::exp(l - m);
  return std::log(sum) + m - logits[label];
}

TEST(SoftmaxXent, LossAndGradientMatchFiniteDifferences) {
  const int64_t rows = 3, classes = 4;
  const std::vector<float> logits = {0.5f, -1.0f, 2.0f, 0.1f,  //
                                     3.0f, 3.0f, -2.0f, 0.0f,  //
                                     -0.7f, 0.2f, 0.3f, 1.9f};
  const std::vector<int32_t> labels = {2, 0, 1};
  std::vector<float> dlogits(rows * classes);
  double loss_sum = 0;
  int64_t correct = 0;
  cpu::softmax_xent(logits.data(), labels.data(), dlogits.data(), rows, classes, 1.0f / rows, &loss_sum, &correct);

  // Mean loss as a double function of all logits.
  auto mean_loss = [&](const std::vector<double>& z) {
    double total = 0;
    for (int64_t r = 0; r < rows; ++r) {
      total += reference_loss(std::vector<double>(z.begin() + r * classes, z.begin() + (r + 1) * classes), labels[r]);
    }
    return total / rows;
  };
  std::vector<double> z(logits.begin(), logits.end());
  EXPECT_NEAR(loss_sum / rows, mean_loss(z), 1e-6);
  EXPECT_EQ(correct, 2);  // row 0: label 2 is the max; row 1: tie 3.0 = 3.0 counts; row 2: 0.2 < 1.9

  const double h = 1e-6;
  for (int64_t i = 0; i < rows * classes; ++i) {
    std::vector<double> plus = z, minus = z;
    plus[i] += h;
    minus[i] -= h;
    const double fd = (mean_loss(plus) - mean_loss(minus)) / (2 * h);
    // Tolerance: float softmax (~1e-7 relative) against a ~1e-9 accurate quotient.
    EXPECT_NEAR(dlogits[i], fd, 1e-6) << "logit " << i;
  }
}

TEST(SoftmaxXent, StableForHugeLogits) {
  const std::vector<float> logits = {1e30f, -1e30f, 0.0f, 88.0f, 89.0f, 1000.0f};
  const std::vector<int32_t> labels = {0, 0};
  std::vector<float> d(6);
  double loss = 0;
  int64_t correct = 0;
  cpu::softmax_xent(logits.data(), labels.data(), d.data(), 2, 3, 1.0f, &loss, &correct);
  // Row 0: loss 0 (the label holds the max by far). Row 1: 1000 - 88, the
  // other terms underflow.
  EXPECT_NEAR(loss, 912.0, 1e-3);
  EXPECT_EQ(correct, 1);
  for (float v : d) EXPECT_TRUE(std::isfinite(v));
  EXPECT_NEAR(d[0], 0.0f, 1e-7);
  EXPECT_NEAR(d[3], -1.0f, 1e-6);
  EXPECT_NEAR(d[5], 1.0f, 1e-6);
}

TEST(SoftmaxXent, NonFiniteRowIsAMissAndBadLabelIsInfinite) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> logits = {1.0f, inf, 0.0f,   //
                                     2.0f, 1.0f, NAN,   //
                                     0.0f, 1.0f, 2.0f};
  const std::vector<int32_t> labels = {1, 0, 7};
  double loss = 0;
  int64_t correct = 0;
  cpu::softmax_xent(logits.data(), labels.data(), nullptr, 3, 3, 1.0f, &loss, &correct);
  EXPECT_EQ(correct, 0);
  double one_row = 0;
  int64_t ignored = 0;
  const std::vector<int32_t> bad = {-1};
  cpu::softmax_xent(logits.data() + 6, bad.data(), nullptr, 1, 3, 1.0f, &one_row, &ignored);
  EXPECT_TRUE(std::isinf(one_row) && one_row > 0);
  EXPECT_EQ(ignored, 0);
}

TEST(SoftmaxXent, AccumulatesIntoTotals) {
  const std::vector<float> logits = {0.0f, 1.0f};
  const std::vector<int32_t> labels = {1};
  double loss = 10.0;
  int64_t correct = 5;
  cpu::softmax_xent(logits.data(), labels.data(), nullptr, 1, 2, 1.0f, &loss, &correct);
  EXPECT_NEAR(loss, 10.0 + std::log1p(std::exp(-1.0)), 1e-6);
  EXPECT_EQ(correct, 6);
}

TEST(ReferenceKernels, SumOfSquaresAndGather) {
  std::vector<float> g(3001);
  double expected = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    g[i] = 0.001f * static_cast<float>(i % 97) - 0.03f;
    expected += static_cast<double>(g[i]) * g[i];
  }
  EXPECT_NEAR(cpu::sum_of_squares(g.data(), static_cast<int64_t>(g.size())), expected, 1e-6 * expected);
  EXPECT_EQ(cpu::sum_of_squares(g.data(), 0), 0.0);

  const std::vector<float> src = {0, 1, 10, 11, 20, 21};
  const std::vector<uint32_t> index = {2, 0, 2};
  std::vector<float> out(6, -1);
  cpu::gather_rows(src.data(), index.data(), out.data(), 3, 2);
  EXPECT_EQ(out, (std::vector<float>{20, 21, 0, 1, 20, 21}));
}

}  // namespace
}  // namespace graft
