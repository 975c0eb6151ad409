#pragma once
// Small dense networks and learnable synthetic data for the backend tests
// (CPU reference vs CUDA backend vs the fused-step emulator): the same
// seeds give the same weights and data in every suite. Header-only.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "host/backend.h"

namespace graft::test {

// n floats uniform in [lo, hi) from mt19937(seed).
inline std::vector<float> uniform_floats(std::size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

struct Net {
  std::vector<DenseLayerShape> layers;
  std::vector<std::vector<float>> params;  // kernel, bias per layer
};

// dims = {inputs, width1, ..., classes}; acts has one entry per layer.
// Glorot-uniform kernels and small random biases (non-zero, so the bias
// path is exercised from step one).
inline Net make_net(const std::vector<int64_t>& dims, const std::vector<Activation>& acts,
                    uint32_t seed) {
  Net net;
  std::mt19937 rng(seed);
  for (std::size_t l = 0; l + 1 < dims.size(); ++l) {
    DenseLayerShape s;
    s.fan_in = dims[l];
    s.fan_out = dims[l + 1];
    s.activation = acts[l];
    net.layers.push_back(s);
    const float limit = std::sqrt(6.0f / static_cast<float>(s.fan_in + s.fan_out));
    std::uniform_real_distribution<float> wd(-limit, limit), bd(-0.1f, 0.1f);
    std::vector<float> w(s.fan_in * s.fan_out), b(s.fan_out);
    for (auto& v : w) v = wd(rng);
    for (auto& v : b) v = bd(rng);
    net.params.push_back(std::move(w));
    net.params.push_back(std::move(b));
  }
  return net;
}

struct TeacherData {
  std::vector<float> x;
  std::vector<int32_t> y;
  int64_t rows = 0, cols = 0;
};

// Features in [0, 1); labels from a random linear "teacher" on the centred
// features (balanced classes), so there is something to learn.
inline TeacherData make_teacher_data(int64_t rows, int64_t cols, int32_t classes, uint32_t seed) {
  TeacherData d;
  d.rows = rows;
  d.cols = cols;
  d.x = uniform_floats(rows * cols, 0.0f, 1.0f, seed);
  const auto teacher = uniform_floats(cols * classes, -1.0f, 1.0f, seed + 1);
  d.y.resize(rows);
  for (int64_t r = 0; r < rows; ++r) {
    int32_t best = 0;
    double best_v = -1e300;
    for (int32_t c = 0; c < classes; ++c) {
      double v = 0.0;
      for (int64_t k = 0; k < cols; ++k) v += (d.x[r * cols + k] - 0.5) * teacher[k * classes + c];
      if (v > best_v) {
        best_v = v;
        best = c;
      }
    }
    d.y[r] = best;
  }
  return d;
}

}  // namespace graft::test
