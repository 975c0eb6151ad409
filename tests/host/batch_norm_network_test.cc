// Batch norm and dropout inside networks on the CPU backend: gradients of a
// whole training step against central finite differences of an independent
// double-precision forward (both placements of batch norm, with and without
// gamma and beta, and dropout with its fixed mask), the moving averages
// against a hand-computed example of TensorFlow's rule, and the modes (a
// frozen batch norm runs in inference form unless told to keep TF1's
// behaviour).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "host/backend.h"
#include "host/math/counter_rng.h"
#include "host/model/model_spec.h"
#include "host/step_plan.h"
#include "tests/common/small_net.h"

namespace graft {
namespace {

// ---------------------------------------------------------------------------
// An independent forward in double: the definitions, not the kernels.

double act(ActivationKind k, double z) {
  switch (k) {
    case ActivationKind::kIdentity: return z;
    case ActivationKind::kTanh: return std::tanh(z);
    case ActivationKind::kElu: return z > 0 ? z : std::exp(z) - 1;
    case ActivationKind::kSigmoid: return 1 / (1 + std::exp(-z));
    default: ADD_FAILURE() << "activation not in the reference"; return z;
  }
}

struct Reference {
  std::vector<DenseLayerShape> nodes;
  ParameterLayout layout;
  uint64_t seed = 0;
  uint64_t step = 0;
  bool frozen_statistics = false;  // batch norm in inference form (moving statistics)

  // Mean softmax cross-entropy of a training-form forward over x [n, in].
  double loss(const std::vector<std::vector<double>>& p, const std::vector<double>& x, const std::vector<int>& y,
              int64_t n) const {
    std::vector<double> a = x;
    int64_t width = nodes.front().fan_in;
    for (int l = 0; l < static_cast<int>(nodes.size()); ++l) {
      const DenseLayerShape& s = nodes[static_cast<std::size_t>(l)];
      std::vector<double> out(static_cast<std::size_t>(n * s.fan_out));
      if (s.kind == NodeKind::kDense) {
        const auto& w = p[static_cast<std::size_t>(layout.kernel(l))];
        const auto& b = p[static_cast<std::size_t>(layout.bias(l))];
        for (int64_t r = 0; r < n; ++r) {
          for (int64_t c = 0; c < s.fan_out; ++c) {
            double z = b[c];
            for (int64_t k = 0; k < width; ++k) z += a[r * width + k] * w[k * s.fan_out + c];
            out[r * s.fan_out + c] = act(s.activation.kind, z);
          }
        }
      } else if (s.kind == NodeKind::kBatchNorm) {
        const int gi = layout.find(l, ParamRole::kGamma), bi = layout.find(l, ParamRole::kBeta);
        for (int64_t c = 0; c < s.fan_out; ++c) {
          double mean = 0, var = 0;
          for (int64_t r = 0; r < n; ++r) mean += a[r * width + c];
          mean /= static_cast<double>(n);
          for (int64_t r = 0; r < n; ++r) var += (a[r * width + c] - mean) * (a[r * width + c] - mean);
          var /= static_cast<double>(n);  // biased, as nn.moments
          if (frozen_statistics) {
            mean = p[static_cast<std::size_t>(layout.find(l, ParamRole::kMovingMean))][c];
            var = p[static_cast<std::size_t>(layout.find(l, ParamRole::kMovingVariance))][c];
          }
          const double g = gi >= 0 ? p[static_cast<std::size_t>(gi)][c] : 1.0;
          const double be = bi >= 0 ? p[static_cast<std::size_t>(bi)][c] : 0.0;
          for (int64_t r = 0; r < n; ++r) {
            const double xhat = (a[r * width + c] - mean) / std::sqrt(var + s.batch_norm.epsilon);
            out[r * s.fan_out + c] = act(s.activation.kind, g * xhat + be);
          }
        }
      } else {
        const double keep = 1.0 - s.rate;
        for (int64_t r = 0; r < n; ++r) {
          for (int64_t c = 0; c < s.fan_out; ++c) {
            const float u = math::counter_uniform(seed, step, static_cast<uint32_t>(l), static_cast<uint32_t>(r),
                                                  static_cast<uint32_t>(c));
            // TF's rule: a unit is kept when its uniform number is >= rate.
            out[r * s.fan_out + c] = u >= s.rate ? a[r * width + c] / keep : 0.0;
          }
        }
      }
      a = out;
      width = s.fan_out;
    }
    double total = 0;
    for (int64_t r = 0; r < n; ++r) {
      double m = a[r * width];
      for (int64_t c = 1; c < width; ++c) m = std::max(m, a[r * width + c]);
      double sum = 0;
      for (int64_t c = 0; c < width; ++c) sum += std::exp(a[r * width + c] - m);
      total += std::log(sum) + m - a[r * width + y[static_cast<std::size_t>(r)]];
    }
    return total / static_cast<double>(n);
  }
};

struct Case {
  const char* name;
  bool before_activation;
  bool scale, center;
  float dropout;
  bool frozen_statistics = false;  // the moving statistics frozen: inference form in training
};

// in -> dense(6) -> batch norm -> dropout -> dense(classes): batch norm
// before tanh (dense linear, batch norm applies tanh) or after it.
std::vector<DenseLayerShape> network(const Case& c, int64_t in, int64_t classes) {
  std::vector<DenseLayerShape> nodes;
  DenseLayerShape d1{in, 6, Activation{ActivationKind::kTanh}};
  DenseLayerShape bn{6, 6, Activation{ActivationKind::kIdentity}};
  bn.kind = NodeKind::kBatchNorm;
  bn.batch_norm.scale = c.scale;
  bn.batch_norm.center = c.center;
  if (c.before_activation) std::swap(d1.activation, bn.activation);
  nodes.push_back(d1);
  nodes.push_back(bn);
  if (c.dropout > 0) {
    DenseLayerShape drop{6, 6, Activation{ActivationKind::kIdentity}};
    drop.kind = NodeKind::kDropout;
    drop.rate = c.dropout;
    nodes.push_back(drop);
  }
  nodes.push_back(DenseLayerShape{6, classes, Activation{ActivationKind::kIdentity}});
  return nodes;
}

class BatchNormGradients : public ::testing::TestWithParam<Case> {};

// The backend's gradient of each optimized parameter, read back from one SGD
// step at learning rate 1 (w' = w - g), against central differences
// (h = 1e-5) of the double forward. Tolerance |g - fd| <= 1e-4 + 1e-3 |fd|:
// the float step is exact to ~1e-6 relative (reductions over 8 rows), the
// read-back w - w' loses at most an ulp of |w| < 2 (~2.4e-7), and the
// difference quotient's truncation error is O(h^2); a missing term of batch
// norm's backward (the mean or variance path) or a wrong mask changes
// gradients by their own size.
TEST_P(BatchNormGradients, MatchFiniteDifferencesInDouble) {
  const Case c = GetParam();
  const int64_t n = 8, in = 5, classes = 3;
  Reference ref;
  ref.nodes = network(c, in, classes);
  ref.layout = parameter_layout(ref.nodes);
  ref.seed = 1234;
  ref.step = 0;
  ref.frozen_statistics = c.frozen_statistics;
  std::vector<std::vector<float>> init;
  for (int i = 0; i < ref.layout.size(); ++i) {
    const ParamSlot& s = ref.layout[i];
    std::vector<float> v = test::uniform_floats(static_cast<std::size_t>(s.count), -0.9f, 0.9f, 100u + i);
    if (s.role == ParamRole::kGamma) for (auto& g : v) g += 1.2f;  // away from 0
    if (s.role == ParamRole::kMovingVariance) for (auto& g : v) g = 1.0f + 0.5f * g;  // [0.55, 1.45]
    init.push_back(v);
  }
  const std::vector<float> x = test::uniform_floats(static_cast<std::size_t>(n * in), -1.0f, 1.0f, 7);
  std::vector<int32_t> labels;
  for (int64_t r = 0; r < n; ++r) labels.push_back(static_cast<int32_t>(r % classes));

  auto backend = make_cpu_backend(1);
  OptimizerConfig sgd;
  sgd.kind = OptimizerKind::kSgd;
  sgd.learning_rate = 1.0f;
  backend->build(ref.nodes, sgd, n);
  backend->set_dropout_seed(ref.seed);
  for (int i = 0; i < ref.layout.size(); ++i) {
    backend->write_param(i, init[static_cast<std::size_t>(i)].data());
    if (c.frozen_statistics && !role_optimized(ref.layout[i].role)) backend->set_trainable(i, false);
  }
  const auto data = backend->upload(x.data(), labels.data(), n, in);
  backend->train_step(*data, 0, n, 0);

  std::vector<std::vector<double>> p;
  for (const auto& v : init) p.emplace_back(v.begin(), v.end());
  const std::vector<double> xd(x.begin(), x.end());
  const std::vector<int> yd(labels.begin(), labels.end());
  int checked = 0;
  for (int i = 0; i < ref.layout.size(); ++i) {
    const ParamSlot& s = ref.layout[i];
    if (!role_optimized(s.role)) continue;
    std::vector<float> after(static_cast<std::size_t>(s.count));
    backend->read_param(i, after.data());
    for (int64_t e = 0; e < s.count; ++e) {
      const double h = 1e-5;
      const double keep = p[i][e];
      p[i][e] = keep + h;
      const double up = ref.loss(p, xd, yd, n);
      p[i][e] = keep - h;
      const double down = ref.loss(p, xd, yd, n);
      p[i][e] = keep;
      const double fd = (up - down) / (2 * h);
      const double got = static_cast<double>(init[i][e]) - static_cast<double>(after[e]);
      EXPECT_NEAR(got, fd, 1e-4 + 1e-3 * std::fabs(fd))
          << c.name << ": parameter " << i << " (" << param_role_name(s.role) << " of node " << s.node << ") element "
          << e;
      ++checked;
    }
  }
  EXPECT_GT(checked, 50);
}

INSTANTIATE_TEST_SUITE_P(Placements, BatchNormGradients,
                         ::testing::Values(Case{"BeforeActivation", true, true, true, 0.0f},
                                           Case{"AfterActivation", false, true, true, 0.0f},
                                           Case{"BeforeNoGammaNoBeta", true, false, false, 0.0f},
                                           Case{"AfterNoGamma", false, false, true, 0.0f},
                                           Case{"BeforeWithDropout", true, true, true, 0.4f},
                                           Case{"AfterWithDropout", false, true, false, 0.5f},
                                           // Frozen statistics, gamma/beta and the dense layer below trained:
                                           // the inference-form backward.
                                           Case{"BeforeFrozenStatistics", true, true, true, 0.0f, true},
                                           Case{"AfterFrozenStatisticsNoGamma", false, false, true, 0.3f, true}),
                         [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------
// The moving averages, by hand: x = [[1, 2], [3, 6], [5, 10], [7, 14]] has
// batch mean [4, 8] and biased variance [5, 20] (Bessel-corrected it would
// be [6.667, 26.667]). TF's _assign_moving_average with momentum 0.9:
// moving -= (moving - batch) * (1 - 0.9), from the initial mean 0 and
// variance 1: mean [0.4, 0.8], variance [1.4, 2.9]; a second identical step:
// mean 0.4 + (4 - 0.4) * 0.1 = 0.76, variance 1.4 + (5 - 1.4) * 0.1 = 1.76.
TEST(BatchNormMovingAverages, FollowTensorFlowsRuleWithTheBiasedVariance) {
  std::vector<DenseLayerShape> nodes;
  DenseLayerShape bn{2, 2, Activation{ActivationKind::kIdentity}};
  bn.kind = NodeKind::kBatchNorm;
  bn.batch_norm.momentum = 0.9;
  nodes.push_back(bn);
  nodes.push_back(DenseLayerShape{2, 2, Activation{ActivationKind::kIdentity}});
  const ParameterLayout layout = parameter_layout(nodes);
  auto backend = make_cpu_backend(1);
  OptimizerConfig sgd;
  sgd.kind = OptimizerKind::kSgd;
  sgd.learning_rate = 0.0f;  // only the op's own update moves anything
  backend->build(nodes, sgd, 4);
  const std::vector<float> ones = {1, 1}, zeros = {0, 0}, w = {1, 0, 0, 1};
  backend->write_param(layout.find(0, ParamRole::kGamma), ones.data());
  backend->write_param(layout.find(0, ParamRole::kBeta), zeros.data());
  backend->write_param(layout.find(0, ParamRole::kMovingMean), zeros.data());
  backend->write_param(layout.find(0, ParamRole::kMovingVariance), ones.data());
  backend->write_param(layout.kernel(1), w.data());
  backend->write_param(layout.bias(1), zeros.data());
  const std::vector<float> x = {1, 2, 3, 6, 5, 10, 7, 14};
  const std::vector<int32_t> y = {0, 1, 0, 1};
  const auto data = backend->upload(x.data(), y.data(), 4, 2);
  std::vector<float> mean(2), var(2);
  // The tolerance is float rounding of a handful of operations on values below 30.
  const double tol = 4e-6;
  backend->train_step(*data, 0, 4, 0);
  backend->read_param(layout.find(0, ParamRole::kMovingMean), mean.data());
  backend->read_param(layout.find(0, ParamRole::kMovingVariance), var.data());
  EXPECT_NEAR(mean[0], 0.4, tol);
  EXPECT_NEAR(mean[1], 0.8, tol);
  EXPECT_NEAR(var[0], 1.4, tol);
  EXPECT_NEAR(var[1], 2.9, tol);
  backend->train_step(*data, 0, 4, 0);
  backend->read_param(layout.find(0, ParamRole::kMovingMean), mean.data());
  backend->read_param(layout.find(0, ParamRole::kMovingVariance), var.data());
  EXPECT_NEAR(mean[0], 0.76, tol);
  EXPECT_NEAR(var[0], 1.76, tol);
  // Evaluation leaves them alone and uses them.
  backend->evaluate(*data, 0);
  std::vector<float> again(2);
  backend->read_param(layout.find(0, ParamRole::kMovingMean), again.data());
  EXPECT_EQ(again, mean);

  // A frozen batch norm (statistics not trainable): inference form in
  // training, statistics fixed. With them trainable again (TF1's behaviour
  // for a frozen layer) they move.
  backend->set_trainable(layout.find(0, ParamRole::kMovingMean), false);
  backend->set_trainable(layout.find(0, ParamRole::kMovingVariance), false);
  backend->train_step(*data, 0, 4, 0);
  backend->read_param(layout.find(0, ParamRole::kMovingMean), again.data());
  EXPECT_EQ(again, mean);
  backend->set_trainable(layout.find(0, ParamRole::kMovingMean), true);
  backend->set_trainable(layout.find(0, ParamRole::kMovingVariance), true);
  backend->train_step(*data, 0, 4, 0);
  backend->read_param(layout.find(0, ParamRole::kMovingMean), again.data());
  EXPECT_NE(again, mean);
}

// The forms the step plan gives: batch norm and dropout in training form
// when trained, inference form in eval; a batch norm with frozen statistics
// in inference form that still passes its gradient down; a frozen prefix
// (dense and batch norm frozen) in inference form, the dropout above it too
// (it lies below the lowest node with anything to train).
TEST(BatchNormModes, StepPlanFormsForFrozenAndTrainedNodes) {
  Case c{"", true, true, true, 0.5f};
  const std::vector<DenseLayerShape> nodes = network(c, 5, 3);
  const ParameterLayout layout = parameter_layout(nodes);
  std::vector<bool> trainable(static_cast<std::size_t>(layout.size()), true);
  const StepPlan train = plan_step(layout, trainable, 0, false);
  ASSERT_EQ(train.forward.size(), 4u);
  EXPECT_TRUE(train.forward[1].train);
  EXPECT_TRUE(train.forward[2].train);
  EXPECT_FALSE(train.forward[0].train);
  const StepPlan eval = plan_step(layout, trainable, 0, false, Mode::kEval);
  EXPECT_FALSE(eval.forward[1].train);
  EXPECT_FALSE(eval.forward[2].train);
  EXPECT_TRUE(eval.backward.empty());
  // Freeze the batch norm's statistics only: inference form, gradients still flow to dense 0.
  trainable[static_cast<std::size_t>(layout.find(1, ParamRole::kMovingMean))] = false;
  trainable[static_cast<std::size_t>(layout.find(1, ParamRole::kMovingVariance))] = false;
  const StepPlan frozen_stats = plan_step(layout, trainable, 0, false);
  EXPECT_FALSE(frozen_stats.forward[1].train);
  EXPECT_TRUE(frozen_stats.forward[2].train);
  ASSERT_EQ(frozen_stats.backward.size(), 4u);
  EXPECT_FALSE(frozen_stats.backward[2].train);
  EXPECT_TRUE(frozen_stats.backward[2].input_grad);
  for (int i = 0; i < layout.size(); ++i) {
    if (layout[i].node <= 1) trainable[static_cast<std::size_t>(i)] = false;
  }
  const StepPlan prefix = plan_step(layout, trainable, 0, false);
  EXPECT_EQ(prefix.lowest_active, 3);
  EXPECT_FALSE(prefix.forward[2].train);
  ASSERT_EQ(prefix.backward.size(), 1u);
}

}  // namespace
}  // namespace graft
