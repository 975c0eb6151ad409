#pragma once
// The batch-norm + dropout networks of the CUDA parity suite
// (tests/cuda/backend_batch_norm_test.cc) and of its CPU stand-in
// (tests/host/batch_norm_parity_standin_test.cc), which measures, without a
// GPU, how far two CPU runs drift apart under rounding-sized perturbations:
// the argument for the GPU suite's 200-step tolerances, kept runnable.
// Header-only.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "host/backend.h"
#include "tests/common/small_net.h"

namespace graft::test {

const Activation kBnTanh{ActivationKind::kTanh, 0.2f};
const Activation kBnIdentity{ActivationKind::kIdentity, 0.2f};

// One batch norm between two dense nodes, then a dropout:
//   in -> dense(width) -> batch norm -> dropout(rate) -> dense(classes)
// before: the dense node is linear and the batch norm applies tanh
// (act(BN(x W + b))); after: the dense node applies tanh, the batch norm
// none (BN(act(x W + b))). scale / center: gamma / beta exist.
struct BnCase {
  const char* name;
  bool before;
  bool scale;
  bool center;
  float rate;
};

inline const std::vector<BnCase>& bn_cases() {
  static const std::vector<BnCase> cases = {
      {"before, gamma and beta", true, true, true, 0.25f},
      {"after, gamma and beta", false, true, true, 0.25f},
      {"before, no gamma or beta", true, false, false, 0.25f},
      {"after, gamma only", false, true, false, 0.5f},
      {"after, beta only, no dropout", false, false, true, 0.0f},
  };
  return cases;
}

inline DenseLayerShape batch_norm_node(int64_t width, Activation act, bool scale, bool center, double momentum = 0.9) {
  DenseLayerShape bn{width, width, act};
  bn.kind = NodeKind::kBatchNorm;
  bn.batch_norm.scale = scale;
  bn.batch_norm.center = center;
  bn.batch_norm.momentum = momentum;  // 0.9: the moving averages move visibly within a few steps
  return bn;
}

inline DenseLayerShape dropout_node(int64_t width, float rate) {
  DenseLayerShape d{width, width, kBnIdentity};
  d.kind = NodeKind::kDropout;
  d.rate = rate;
  return d;
}

inline std::vector<DenseLayerShape> bn_case_layers(const BnCase& c, int64_t in, int64_t width, int64_t classes) {
  std::vector<DenseLayerShape> nodes;
  nodes.push_back({in, width, c.before ? kBnIdentity : kBnTanh});
  nodes.push_back(batch_norm_node(width, c.before ? kBnTanh : kBnIdentity, c.scale, c.center));
  if (c.rate > 0.0f) nodes.push_back(dropout_node(width, c.rate));
  nodes.push_back({width, classes, kBnIdentity});
  return nodes;
}

// Both placements and two dropouts in one network (the 200-step runs):
//   in -> dense(32, linear) -> BN(tanh) -> dropout(0.2)
//      -> dense(24, tanh) -> BN -> dropout(0.1) -> dense(classes)
inline std::vector<DenseLayerShape> bn_deep_layers(int64_t in, int64_t classes) {
  return {{in, 32, kBnIdentity},          batch_norm_node(32, kBnTanh, true, true),
          dropout_node(32, 0.2f),         {32, 24, kBnTanh},
          batch_norm_node(24, kBnIdentity, true, true), dropout_node(24, 0.1f),
          {24, classes, kBnIdentity}};
}

// Initial values by parameter index (parameter_layout's order): Glorot
// kernels, small biases, gamma near 1, beta near 0, moving statistics away
// from (0, 1) so that using the wrong ones shows.
inline Net bn_net(const std::vector<DenseLayerShape>& layers, uint32_t seed) {
  Net net;
  net.layers = layers;
  const ParameterLayout layout = parameter_layout(layers);
  for (int i = 0; i < layout.size(); ++i) {
    const ParamSlot& p = layout[i];
    const DenseLayerShape& s = layers[static_cast<std::size_t>(p.node)];
    const auto n = static_cast<std::size_t>(p.count);
    const uint32_t sd = seed + 17u * static_cast<uint32_t>(i);
    switch (p.role) {
      case ParamRole::kKernel: {
        const float limit = std::sqrt(6.0f / static_cast<float>(s.fan_in + s.fan_out));
        net.params.push_back(uniform_floats(n, -limit, limit, sd));
        break;
      }
      case ParamRole::kBias: net.params.push_back(uniform_floats(n, -0.1f, 0.1f, sd)); break;
      case ParamRole::kGamma: net.params.push_back(uniform_floats(n, 0.7f, 1.3f, sd)); break;
      case ParamRole::kBeta: net.params.push_back(uniform_floats(n, -0.3f, 0.3f, sd)); break;
      case ParamRole::kMovingMean: net.params.push_back(uniform_floats(n, -0.2f, 0.2f, sd)); break;
      case ParamRole::kMovingVariance: net.params.push_back(uniform_floats(n, 0.5f, 1.5f, sd)); break;
    }
  }
  return net;
}

// The 200-step run: the deep network, Momentum 0.9 at lr 0.05, batches of
// 32 over 1271 rows (39 full batches and one of 23 per epoch), 5 epochs,
// dropout seed 99.
struct BnTrainingSetup {
  Net net = bn_net(bn_deep_layers(13, 5), 4242);
  OptimizerConfig config;
  TeacherData data = make_teacher_data(1271, 13, 5, 31);
  int64_t batch = 32;
  int epochs = 5;
  uint64_t shuffle_seed = 7;
  uint64_t dropout_seed = 99;
  BnTrainingSetup() {
    config.kind = OptimizerKind::kMomentum;
    config.learning_rate = 0.05f;
  }
  int64_t steps() const { return epochs * ((data.rows + batch - 1) / batch); }
};

// The 200-step tolerances (|gpu - cpu| <= atol + rtol |cpu| on every
// parameter, moving statistics included; the median |diff| bounded
// separately), argued and checked by the CPU stand-in.
constexpr double kBnFreeRunAtol = 5e-4;
constexpr double kBnFreeRunRtol = 5e-3;
constexpr double kBnFreeRunMedian = 3e-5;
constexpr double kBnFreeRunLossRtol = 3e-5;  // each epoch's loss sum

}  // namespace graft::test
