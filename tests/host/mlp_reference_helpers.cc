#include <cmath>

#include "tests/host/mlp_reference.h"

namespace graft::test {

double reference_activation(const Activation& a, double x) {
  const double selu_alpha = 1.6732632423543772, selu_scale = 1.0507009873554805;
  switch (a.kind) {
    case ActivationKind::kIdentity: return x;
    case ActivationKind::kRelu: return x > 0 ? x : 0;
    case ActivationKind::kElu: return x > 0 ? x : std::exp(x) - 1;
    case ActivationKind::kSelu: return selu_scale * (x > 0 ? x : selu_alpha * (std::exp(x) - 1));
    case ActivationKind::kLeakyRelu: return x > 0 ? x : a.alpha * x;
    case ActivationKind::kTanh: return std::tanh(x);
    case ActivationKind::kSigmoid: return 1 / (1 + std::exp(-x));
  }
  return NAN;
}

std::vector<double> ReferenceMlp::logits(const std::vector<float>& x, int64_t n) const {
  std::vector<double> in(x.begin(), x.begin() + n * dims[0]);
  for (std::size_t l = 0; l + 1 < dims.size(); ++l) {
    const int64_t fi = dims[l], fo = dims[l + 1];
    const std::vector<double>& w = params[2 * l];
    const std::vector<double>& b = params[2 * l + 1];
    std::vector<double> out(static_cast<std::size_t>(n * fo));
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t j = 0; j < fo; ++j) {
        double z = b[j];
        for (int64_t i = 0; i < fi; ++i) z += in[r * fi + i] * w[i * fo + j];
        out[r * fo + j] = reference_activation(activations[l], z);
      }
    }
    in.swap(out);
  }
  return in;
}

double ReferenceMlp::loss(const std::vector<float>& x, const std::vector<int32_t>& y) const {
  const int64_t n = static_cast<int64_t>(y.size()), classes = dims.back();
  const std::vector<double> z = logits(x, n);
  double total = 0;
  for (int64_t r = 0; r < n; ++r) {
    double m = z[r * classes];
    for (int64_t c = 0; c < classes; ++c) m = std::max(m, z[r * classes + c]);
    double sum = 0;
    for (int64_t c = 0; c < classes; ++c) sum += std::exp(z[r * classes + c] - m);
    total += std::log(sum) + m - z[r * classes + y[r]];
  }
  return total / n;
}

std::vector<std::vector<double>> ReferenceMlp::numeric_gradient(const std::vector<float>& x,
                                                                const std::vector<int32_t>& y, double h) const {
  std::vector<std::vector<double>> grads;
  ReferenceMlp probe = *this;
  for (std::size_t p = 0; p < params.size(); ++p) {
    std::vector<double> g(params[p].size());
    for (std::size_t i = 0; i < g.size(); ++i) {
      const double saved = probe.params[p][i];
      probe.params[p][i] = saved + h;
      const double up = probe.loss(x, y);
      probe.params[p][i] = saved - h;
      const double down = probe.loss(x, y);
      probe.params[p][i] = saved;
      g[i] = (up - down) / (2 * h);
    }
    grads.push_back(std::move(g));
  }
  return grads;
}

}  // namespace graft::test
