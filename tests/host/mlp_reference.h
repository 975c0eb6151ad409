#pragma once
// A double-precision multilayer perceptron written independently of the
// library (plain loops, TF's definitions), for checking the backends: its
// loss is differentiated numerically by central differences.
#include <cstdint>
#include <vector>

#include "host/model/activation.h"

namespace graft::test {

struct ReferenceMlp {
  std::vector<int64_t> dims;             // inputs, then each layer's width
  std::vector<Activation> activations;   // one per layer (last: identity)
  std::vector<std::vector<double>> params;  // kernel [in, out], bias [out], per layer

  // Mean softmax cross-entropy of rows x [n, dims[0]] with labels y.
  double loss(const std::vector<float>& x, const std::vector<int32_t>& y) const;
  // Logits [n, dims.back()].
  std::vector<double> logits(const std::vector<float>& x, int64_t n) const;
  // d loss / d params by central differences with step h.
  std::vector<std::vector<double>> numeric_gradient(const std::vector<float>& x, const std::vector<int32_t>& y,
                                                    double h = 1e-6) const;
};

double reference_activation(const Activation& a, double x);

}  // namespace graft::test
