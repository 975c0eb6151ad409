// Activations: parsing, forward values against TF's definitions evaluated in
// double, and the backward kernel against double-precision central
// differences of those definitions.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "host/model/activation.h"
#include "host/cpu/reference_kernels.h"
#include "tests/host/mlp_reference.h"

namespace graft {
namespace {

double reference(const Activation& a, double x) { return test::reference_activation(a, x); }

std::vector<Activation> all_activations() {
  std::vector<Activation> out;
  for (const char* name : {"identity", "relu", "elu", "selu", "leaky_relu", "leaky_relu:0.01", "tanh", "sigmoid"}) {
    out.push_back(*parse_activation(name));
  }
  return out;
}

TEST(Activation, ParsesNamesAndAlpha) {
  EXPECT_EQ(parse_activation("relu")->kind, ActivationKind::kRelu);
  EXPECT_EQ(parse_activation("linear")->kind, ActivationKind::kIdentity);
  EXPECT_EQ(parse_activation("none")->kind, ActivationKind::kIdentity);
  EXPECT_FLOAT_EQ(parse_activation("leaky_relu")->alpha, 0.2f);
  EXPECT_FLOAT_EQ(parse_activation("leaky_relu:0.1")->alpha, 0.1f);
  EXPECT_FALSE(parse_activation("leaky_relu:"));
  EXPECT_FALSE(parse_activation("leaky_relu:x"));
  EXPECT_FALSE(parse_activation("leaky_relu:-1"));
  EXPECT_FALSE(parse_activation("softplus"));
  for (const Activation& a : all_activations()) {
    EXPECT_EQ(parse_activation(activation_name(a))->kind, a.kind);
  }
}

// Points away from the kink at 0, where a difference quotient is meaningless.
const std::vector<float> kPoints = {-6.0f, -2.5f, -1.0f, -0.3f, -0.01f, 0.02f, 0.4f, 1.0f, 3.0f, 7.5f};

TEST(Activation, ForwardMatchesTensorFlowDefinitions) {
  for (const Activation& a : all_activations()) {
    const int64_t cols = static_cast<int64_t>(kPoints.size());
    std::vector<float> y(kPoints), bias(kPoints.size(), 0.0f);
    // Split each point into a pre-activation and a bias to test the fused add.
    for (int64_t c = 0; c < cols; ++c) {
      bias[c] = 0.25f;
      y[c] = kPoints[c] - 0.25f;
    }
    cpu::bias_activation_forward(y.data(), bias.data(), 1, cols, a);
    for (int64_t c = 0; c < cols; ++c) {
      const double x = static_cast<double>(kPoints[c] - 0.25f) + 0.25;
      // Tolerance: float rounding of exp/tanh (a few ulp).
      EXPECT_NEAR(y[c], reference(a, x), 2e-6 * (1 + std::fabs(reference(a, x))))
          << activation_name(a) << " at " << x;
    }
  }
}

TEST(Activation, BackwardMatchesFiniteDifferences) {
  const double h = 1e-6;
  for (const Activation& a : all_activations()) {
    const int64_t rows = 2, cols = static_cast<int64_t>(kPoints.size());
    std::vector<float> y(rows * cols), grad(rows * cols), bias_grad(cols, -99.0f), zero(cols, 0.0f);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        y[r * cols + c] = kPoints[c];
        grad[r * cols + c] = r == 0 ? 1.0f : -0.5f;  // upstream gradients
      }
    }
    cpu::bias_activation_forward(y.data(), zero.data(), rows, cols, a);
    cpu::activation_backward_bias_grad(grad.data(), y.data(), bias_grad.data(), rows, cols, a);
    for (int64_t c = 0; c < cols; ++c) {
      const double x = kPoints[c];
      const double fd = (reference(a, x + h) - reference(a, x - h)) / (2 * h);
      // Tolerance: the derivative is evaluated from the float output y
      // (relative error ~1e-7 of y), the difference quotient is exact to ~1e-9.
      const double tol = 1e-5 * (1 + std::fabs(fd));
      EXPECT_NEAR(grad[c], fd, tol) << activation_name(a) << " at " << x;
      EXPECT_NEAR(grad[cols + c], -0.5 * fd, tol) << activation_name(a) << " at " << x;
      EXPECT_NEAR(bias_grad[c], 0.5 * fd, tol) << activation_name(a) << " bias gradient at " << x;
    }
  }
}

}  // namespace
}  // namespace graft
