#pragma once
// Checkpoint values for a hand-built graph's variables, and the network
// computed from them as TensorFlow defines each op, in double: the
// independent side of the graph-import tests' end-to-end checks (the
// imported model's logits must match it).
//   dense:      z = x·W + b
//   batch norm: (z - moving_mean) * rsqrt(moving_variance + epsilon) * gamma + beta
//               (nn.batch_normalization and the fused kernel at inference; no gamma: 1, no beta: 0)
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "checkpoint/bundle_writer.h"

namespace graft::test {

class TfValues {
 public:
  explicit TfValues(uint32_t seed) : rng_(seed) {}

  // A variable of uniform values in [lo, hi).
  const std::vector<float>& random(const std::string& name, const std::vector<int64_t>& shape, float lo, float hi) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float>& v = values_[name];
    v.resize(static_cast<std::size_t>(n));
    for (float& x : v) x = u(rng_);
    shapes_[name] = shape;
    return v;
  }

  void set(const std::string& name, const std::vector<int64_t>& shape, std::vector<float> values) {
    values_[name] = std::move(values);
    shapes_[name] = shape;
  }

  // Batch-norm statistics close to those of z ([rows, units]), as training
  // would leave them: mean + noise, variance x [0.5, 2).
  void statistics_of(const std::string& scope, const std::vector<double>& z, int64_t units) {
    std::vector<double> sum(static_cast<std::size_t>(units), 0.0), sq(static_cast<std::size_t>(units), 0.0);
    const std::size_t rows = z.size() / static_cast<std::size_t>(units);
    for (std::size_t k = 0; k < z.size(); ++k) {
      sum[k % units] += z[k];
      sq[k % units] += z[k] * z[k];
    }
    std::uniform_real_distribution<double> noise(-0.2, 0.2), factor(0.5, 2.0);
    std::vector<float> mean, variance;
    for (int64_t j = 0; j < units; ++j) {
      const double m = sum[j] / rows, var = std::max(sq[j] / rows - m * m, 1e-3);
      mean.push_back(static_cast<float>(m + noise(rng_) * std::sqrt(var)));
      variance.push_back(static_cast<float>(var * factor(rng_)));
    }
    set(scope + "/moving_mean", {units}, mean);
    set(scope + "/moving_variance", {units}, variance);
  }

  const std::vector<float>& operator[](const std::string& name) const { return values_.at(name); }
  bool has(const std::string& name) const { return values_.count(name) > 0; }

  void write(const std::string& prefix) const {
    BundleWriter w(prefix);
    for (const auto& [name, v] : values_) w.add_float(name, shapes_.at(name), v.data());
    w.finish();
  }

 private:
  std::mt19937 rng_;
  std::map<std::string, std::vector<float>> values_;
  std::map<std::string, std::vector<int64_t>> shapes_;
};

// x [rows, in] · W [in, out] + b.
inline std::vector<double> dense_reference(const std::vector<double>& x, int64_t rows, int64_t in, int64_t out,
                                           const std::vector<float>& w, const std::vector<float>& b) {
  std::vector<double> z(static_cast<std::size_t>(rows * out));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < out; ++j) {
      double s = b[static_cast<std::size_t>(j)];
      for (int64_t i = 0; i < in; ++i) {
        s += x[static_cast<std::size_t>(r * in + i)] * w[static_cast<std::size_t>(i * out + j)];
      }
      z[static_cast<std::size_t>(r * out + j)] = s;
    }
  }
  return z;
}

// Batch normalization at inference, in place; gamma/beta null: scale/center off.
inline void batch_norm_reference(std::vector<double>& z, int64_t units, const std::vector<float>* gamma,
                                 const std::vector<float>* beta, const std::vector<float>& mean,
                                 const std::vector<float>& variance, double epsilon) {
  for (std::size_t k = 0; k < z.size(); ++k) {
    const std::size_t j = k % static_cast<std::size_t>(units);
    const double inv = 1.0 / std::sqrt(static_cast<double>(variance[j]) + epsilon);
    z[k] = (z[k] - mean[j]) * inv * (gamma ? (*gamma)[j] : 1.0) + (beta ? (*beta)[j] : 0.0);
  }
}

inline void relu_reference(std::vector<double>& z) {
  for (double& v : z) v = v > 0 ? v : 0;
}

// Row-wise softmax of logits [rows, classes].
inline std::vector<double> softmax_reference(const std::vector<double>& logits, int64_t classes) {
  std::vector<double> p(logits.size());
  for (std::size_t r = 0; r < logits.size() / static_cast<std::size_t>(classes); ++r) {
    const double* l = logits.data() + r * static_cast<std::size_t>(classes);
    double top = l[0], sum = 0;
    for (int64_t j = 1; j < classes; ++j) top = std::max(top, l[j]);
    for (int64_t j = 0; j < classes; ++j) sum += std::exp(l[j] - top);
    for (int64_t j = 0; j < classes; ++j) p[r * static_cast<std::size_t>(classes) + j] = std::exp(l[j] - top) / sum;
  }
  return p;
}

}  // namespace graft::test
