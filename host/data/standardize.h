#pragma once
// Per-feature input standardization, as sklearn's StandardScaler: fitted on
// the training rows only (never validation or test rows), x' = (x - mean) /
// stddev with the population standard deviation (ddof 0); a feature whose
// stddev is 0 on the training rows (a constant pixel) gets stddev 1, as
// sklearn does, so it becomes x - mean. The mean and stddev are recorded in
// the model description (ModelInput::mean/stddev), and eval, predict,
// --resume and the frozen-layer cache (which caches standardized inputs'
// activations) apply the recorded values.
#include <cstdint>
#include <string>
#include <vector>

#include "host/data/dataset.h"

namespace graft {

struct Standardization {
  std::vector<float> mean, stddev;
  int64_t constant_features = 0;  // stddev 0 on the training rows, set to 1
};

// Mean and stddev of each column of `train` (accumulated in double).
// Throws graft::Error for a split without rows.
Standardization fit_standardization(const DataSplit& train);

// One value: (x - mean) / stddev in double, rounded to float once (the one
// definition: training, eval and predict all call it).
inline float standardize_value(float x, float mean, float stddev) {
  return static_cast<float>((static_cast<double>(x) - static_cast<double>(mean)) / static_cast<double>(stddev));
}

// Every row of `features` ([rows, cols] row-major), in place.
void apply_standardization(std::vector<float>& features, int64_t cols, const std::vector<float>& mean,
                           const std::vector<float>& stddev);
void apply_standardization(DataSplit& split, const std::vector<float>& mean, const std::vector<float>& stddev);

// A mean/stddev file for inputs standardized elsewhere: JSON
//   {"mean": [m0, m1, ...], "stddev": [s0, s1, ...]}
// one value per feature, every stddev > 0. Throws graft::Error naming the
// file and what is wrong (the sizes, a non-positive stddev, bad JSON).
Standardization read_standardization_file(const std::string& path, int64_t features);

}  // namespace graft
