// L1/L2 regularization and max-norm on the CPU backend (issue 17), against
// the TF1 definitions written out here independently, in double:
//   l1_regularizer(s) = s * sum|w|, l2_regularizer(s) = s * sum(w^2) / 2,
//   gradient s * sign(w) and s * w, clip_by_norm's (t * r) / max(norm, r).
// The reported training loss is the cross-entropy plus the penalty; the
// gradient matches finite differences of that total; clipping by value and
// by global norm see the regularized gradient; max-norm leaves every row
// (axis 1) or column (axis 0) at norm <= r and never touches a frozen kernel.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "checkpoint/error.h"
#include "cuda/fused/plan.h"
#include "host/backend.h"
#include "host/cpu/regularization.h"
#include "host/model/regularization.h"
#include "tests/common/small_net.h"

namespace graft {
namespace {

// A 3-4-2 tanh network (no kinks, so finite differences are clean) and 6 rows.
struct Problem {
  test::Net net = test::make_net({3, 4, 2}, {Activation{ActivationKind::kTanh}, Activation{ActivationKind::kIdentity}}, 7);
  test::TeacherData data = test::make_teacher_data(6, 3, 2, 11);
};

// The mean cross-entropy of the rows, in double, for parameters p (kernel,
// bias per layer): the test's own forward pass.
double mean_xent(const Problem& pr, const std::vector<std::vector<double>>& p) {
  const auto& d = pr.data;
  double total = 0.0;
  for (int64_t r = 0; r < d.rows; ++r) {
    std::vector<double> in(d.x.begin() + r * d.cols, d.x.begin() + (r + 1) * d.cols);
    for (std::size_t l = 0; l < pr.net.layers.size(); ++l) {
      const DenseLayerShape& s = pr.net.layers[l];
      std::vector<double> out(static_cast<std::size_t>(s.fan_out));
      for (int64_t j = 0; j < s.fan_out; ++j) {
        double z = p[2 * l + 1][static_cast<std::size_t>(j)];
        for (int64_t i = 0; i < s.fan_in; ++i) z += in[static_cast<std::size_t>(i)] * p[2 * l][i * s.fan_out + j];
        out[static_cast<std::size_t>(j)] = s.activation.kind == ActivationKind::kTanh ? std::tanh(z) : z;
      }
      in = out;
    }
    double m = in[0];
    for (double v : in) m = std::max(m, v);
    double sum = 0.0;
    for (double v : in) sum += std::exp(v - m);
    total += m + std::log(sum) - in[static_cast<std::size_t>(d.y[r])];
  }
  return total / static_cast<double>(d.rows);
}

// TF1's terms, by definition.
double tf1_penalty(const std::vector<std::vector<double>>& p, const std::vector<ParamRegularizer>& regs) {
  double total = 0.0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    double abs_sum = 0.0, sq_sum = 0.0;
    for (double w : p[i]) abs_sum += std::fabs(w), sq_sum += w * w;
    total += regs[i].l1 * abs_sum + regs[i].l2 * sq_sum / 2.0;
  }
  return total;
}

std::vector<std::vector<double>> as_double(const std::vector<std::vector<float>>& p) {
  std::vector<std::vector<double>> out;
  for (const auto& t : p) out.emplace_back(t.begin(), t.end());
  return out;
}

// The kernels get l1 0.01 and l2 0.05, the biases l2 0.02 (with biases on).
std::vector<ParamRegularizer> regularizers(bool biases) {
  std::vector<ParamRegularizer> r(4);
  for (int k : {0, 2}) r[k].l1 = 0.01f, r[k].l2 = 0.05f;
  if (biases) r[1].l2 = r[3].l2 = 0.02f;
  return r;
}

struct Session {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<DeviceDataset> data;
};

Session start(const Problem& pr, const OptimizerConfig& opt, const std::vector<ParamRegularizer>& regs) {
  Session run{make_cpu_backend(1), nullptr};
  run.backend->build(pr.net.layers, opt, pr.data.rows);
  for (int i = 0; i < 4; ++i) run.backend->write_param(i, pr.net.params[static_cast<std::size_t>(i)].data());
  run.backend->set_regularization(regs);
  run.data = run.backend->upload(pr.data.x.data(), pr.data.y.data(), pr.data.rows, pr.data.cols);
  return run;
}

std::vector<float> read(Backend& b, int index, std::size_t n) {
  std::vector<float> v(n);
  b.read_param(index, v.data());
  return v;
}

OptimizerConfig sgd(float lr) {
  OptimizerConfig o;
  o.kind = OptimizerKind::kSgd;
  o.learning_rate = lr;
  return o;
}

TEST(Regularization, ReportedLossIsCrossEntropyPlusTf1Penalty) {
  const Problem pr;
  for (bool biases : {false, true}) {
    const std::vector<ParamRegularizer> regs = regularizers(biases);
    Session run = start(pr, sgd(0.1f), regs);
    run.backend->train_step(*run.data, 0, pr.data.rows, 0);
    const EpochTotals t = run.backend->take_train_totals();
    const auto p = as_double(pr.net.params);
    const double want = mean_xent(pr, p) + tf1_penalty(p, regs);
    // Float forward pass vs the double one: a few float ulps of a loss near 1.
    EXPECT_NEAR(t.loss_sum / static_cast<double>(t.samples), want, 2e-6) << "biases " << biases;
    // The penalty is not negligible here, so leaving it out would fail.
    EXPECT_GT(tf1_penalty(p, regs), 1e-2);
  }
}

// SGD with lr 1: the update is the gradient. Against central differences
// of the test's own total loss (in double, step 1e-5: truncation ~1e-10).
std::vector<std::vector<double>> numeric_gradient(const Problem& pr, const std::vector<ParamRegularizer>& regs) {
  auto p = as_double(pr.net.params);
  std::vector<std::vector<double>> g;
  for (std::size_t i = 0; i < p.size(); ++i) {
    g.emplace_back(p[i].size());
    for (std::size_t k = 0; k < p[i].size(); ++k) {
      const double keep = p[i][k], h = 1e-5;
      p[i][k] = keep + h;
      const double up = mean_xent(pr, p) + tf1_penalty(p, regs);
      p[i][k] = keep - h;
      const double down = mean_xent(pr, p) + tf1_penalty(p, regs);
      p[i][k] = keep;
      g[i][k] = (up - down) / (2 * h);
    }
  }
  return g;
}

TEST(Regularization, GradientMatchesFiniteDifferencesOfTheTotalLoss) {
  const Problem pr;
  const std::vector<ParamRegularizer> regs = regularizers(true);
  const auto want = numeric_gradient(pr, regs);
  Session run = start(pr, sgd(1.0f), regs);
  run.backend->train_step(*run.data, 0, pr.data.rows, 0);
  for (int i = 0; i < 4; ++i) {
    const std::vector<float>& w0 = pr.net.params[static_cast<std::size_t>(i)];
    const std::vector<float> w1 = read(*run.backend, i, w0.size());
    for (std::size_t k = 0; k < w0.size(); ++k) {
      // w0 - w1 in float loses ~1e-7 of |w|; the float gradient ~1e-6.
      EXPECT_NEAR(static_cast<double>(w0[k]) - w1[k], want[static_cast<std::size_t>(i)][k], 1e-5)
          << "parameter " << i << " element " << k;
    }
  }
}

TEST(Regularization, ClippingByValueAndGlobalNormSeeTheRegularizedGradient) {
  const Problem pr;
  // A penalty that dominates the gradient: clipping must see it.
  std::vector<ParamRegularizer> regs(4);
  regs[0].l2 = regs[2].l2 = 3.0f;
  const auto g = numeric_gradient(pr, regs);
  double squares = 0.0;
  for (int i : {0, 1, 2, 3}) {
    for (double v : g[static_cast<std::size_t>(i)]) squares += v * v;
  }
  const double norm = std::sqrt(squares);
  for (bool by_value : {true, false}) {
    OptimizerConfig o = sgd(1.0f);
    const float limit = 0.05f;
    if (by_value) o.clip_value = limit;
    else o.clip_norm = 0.1f;
    ASSERT_GT(norm, 0.1);  // the global norm clip is active
    Session run = start(pr, o, regs);
    run.backend->train_step(*run.data, 0, pr.data.rows, 0);
    for (int i = 0; i < 4; ++i) {
      const std::vector<float>& w0 = pr.net.params[static_cast<std::size_t>(i)];
      const std::vector<float> w1 = read(*run.backend, i, w0.size());
      for (std::size_t k = 0; k < w0.size(); ++k) {
        const double gk = g[static_cast<std::size_t>(i)][k];
        const double want = by_value ? std::clamp(gk, -double{limit}, double{limit}) : gk * 0.1 / norm;
        EXPECT_NEAR(static_cast<double>(w0[k]) - w1[k], want, 1e-5) << (by_value ? "value " : "norm ") << i << "," << k;
      }
    }
  }
}

TEST(Regularization, AFrozenKernelKeepsItsWeightsButItsPenaltyStaysInTheLoss) {
  const Problem pr;
  std::vector<ParamRegularizer> regs = regularizers(false);
  regs[0].max_norm = 0.1f;  // would clip it if it were touched
  Session run = start(pr, sgd(0.1f), regs);
  run.backend->set_trainable(0, false);
  run.backend->train_step(*run.data, 0, pr.data.rows, 0);
  EXPECT_EQ(read(*run.backend, 0, pr.net.params[0].size()), pr.net.params[0]);
  const EpochTotals t = run.backend->take_train_totals();
  const auto p = as_double(pr.net.params);
  EXPECT_NEAR(t.loss_sum / static_cast<double>(t.samples), mean_xent(pr, p) + tf1_penalty(p, regs), 2e-6);
}

// The row (axis 1) and column (axis 0) norms of a [rows, cols] kernel.
std::vector<double> norms(const std::vector<float>& w, int64_t rows, int64_t cols, int axis) {
  std::vector<double> out(static_cast<std::size_t>(axis == 1 ? rows : cols), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) out[static_cast<std::size_t>(axis == 1 ? r : c)] += double{w[r * cols + c]} * w[r * cols + c];
  }
  for (double& v : out) v = std::sqrt(v);
  return out;
}

TEST(Regularization, ClipByNormFollowsTfsFormula) {
  // Rows [3, 4] (norm 5) and [0.3, 0.4] (norm 0.5) with r = 2.5: the first
  // becomes [1.5, 2], the second (t * 2.5) / 2.5.
  std::vector<float> w = {3.0f, 4.0f, 0.3f, 0.4f};
  cpu::clip_rows_by_norm(w.data(), 2, 2, 2.5f);
  EXPECT_EQ(w[0], 3.0f * 2.5f / 5.0f);
  EXPECT_EQ(w[1], 4.0f * 2.5f / 5.0f);
  EXPECT_EQ(w[2], (0.3f * 2.5f) / 2.5f);
  EXPECT_EQ(w[3], (0.4f * 2.5f) / 2.5f);
  // Columns of [[3, 0.3], [4, 0.4]]: the same numbers, by column; a zero column stays zero.
  std::vector<float> c = {3.0f, 0.3f, 0.0f, 4.0f, 0.4f, 0.0f};
  std::vector<double> sums(3);
  cpu::clip_columns_by_norm(c.data(), 2, 3, 3, 2.5f, sums.data());
  EXPECT_EQ(c[0], 1.5f);
  EXPECT_EQ(c[3], 2.0f);
  EXPECT_EQ(c[1], (0.3f * 2.5f) / 2.5f);
  EXPECT_EQ(c[2], 0.0f);
  EXPECT_EQ(c[5], 0.0f);
}

TEST(Regularization, MaxNormBoundsEveryRowOrColumnOfTheTrainedKernels) {
  const Problem pr;
  for (int axis : {1, 0}) {
    std::vector<ParamRegularizer> regs(4);
    regs[0].max_norm = regs[2].max_norm = 0.3f;
    regs[0].max_norm_axis = regs[2].max_norm_axis = axis;
    Session run = start(pr, sgd(0.5f), regs);
    for (int step = 0; step < 5; ++step) run.backend->train_step(*run.data, 0, pr.data.rows, 0);
    bool any_at_limit = false;
    for (int l = 0; l < 2; ++l) {
      const DenseLayerShape& s = pr.net.layers[static_cast<std::size_t>(l)];
      const std::vector<float> w = read(*run.backend, 2 * l, static_cast<std::size_t>(s.fan_in * s.fan_out));
      for (double n : norms(w, s.fan_in, s.fan_out, axis)) {
        // (t * r) / norm rounds each element once: the norm is r within a few float ulps.
        EXPECT_LE(n, 0.3 * (1 + 1e-6)) << "axis " << axis << " layer " << l;
        any_at_limit = any_at_limit || n > 0.3 * (1 - 1e-6);
      }
    }
    EXPECT_TRUE(any_at_limit) << "the initial weights exceed 0.3 somewhere, so something was clipped";
  }
}

TEST(Regularization, NoRegularizerIsBitIdenticalToNone) {
  const Problem pr;
  Session a = start(pr, sgd(0.1f), {});
  Session b = start(pr, sgd(0.1f), std::vector<ParamRegularizer>(4));
  for (int step = 0; step < 3; ++step) {
    a.backend->train_step(*a.data, 0, pr.data.rows, 0);
    b.backend->train_step(*b.data, 0, pr.data.rows, 0);
  }
  for (int i = 0; i < 4; ++i) EXPECT_EQ(read(*a.backend, i, pr.net.params[i].size()), read(*b.backend, i, pr.net.params[i].size()));
  EXPECT_EQ(a.backend->take_train_totals().loss_sum, b.backend->take_train_totals().loss_sum);
}

TEST(Regularization, BackendRefusesAMaxNormOnABiasAndTheFusedStepSaysWhy) {
  const Problem pr;
  std::vector<ParamRegularizer> regs(4);
  regs[1].max_norm = 1.0f;
  auto backend = make_cpu_backend(1);
  backend->build(pr.net.layers, sgd(0.1f), 8);
  EXPECT_THROW(backend->set_regularization(regs), Error);
  std::vector<ParamRegularizer> l2(4), norm(4);
  l2[0].l2 = 0.1f;
  norm[0].max_norm = 1.0f;
  EXPECT_EQ(cuda::fused::regularization_unsupported_reason(std::vector<ParamRegularizer>(4)), "");
  EXPECT_NE(cuda::fused::regularization_unsupported_reason(l2).find("L2 regularization"), std::string::npos);
  EXPECT_NE(cuda::fused::regularization_unsupported_reason(norm).find("max-norm"), std::string::npos);
}

}  // namespace
}  // namespace graft
