#include "host/data/standardize.h"

#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "checkpoint/error.h"

namespace graft {

Standardization fit_standardization(const DataSplit& train) {
  if (train.rows <= 0 || train.cols <= 0) throw Error("standardization: no training rows to fit the mean and stddev on");
  const std::size_t cols = static_cast<std::size_t>(train.cols);
  std::vector<double> sum(cols, 0.0), squares(cols, 0.0);
  for (int64_t r = 0; r < train.rows; ++r) {
    const float* row = train.features.data() + r * train.cols;
    for (std::size_t c = 0; c < cols; ++c) sum[c] += row[c];
  }
  const double n = static_cast<double>(train.rows);
  Standardization s;
  s.mean.resize(cols);
  for (std::size_t c = 0; c < cols; ++c) s.mean[c] = static_cast<float>(sum[c] / n);
  // Two passes (sum of squared deviations from the mean): no cancellation.
  for (int64_t r = 0; r < train.rows; ++r) {
    const float* row = train.features.data() + r * train.cols;
    for (std::size_t c = 0; c < cols; ++c) {
      const double d = static_cast<double>(row[c]) - sum[c] / n;
      squares[c] += d * d;
    }
  }
  s.stddev.resize(cols);
  for (std::size_t c = 0; c < cols; ++c) {
    const float sd = static_cast<float>(std::sqrt(squares[c] / n));
    if (sd > 0.0f) {
      s.stddev[c] = sd;
    } else {
      s.stddev[c] = 1.0f;  // sklearn's _handle_zeros_in_scale
      ++s.constant_features;
    }
  }
  return s;
}

void apply_standardization(std::vector<float>& features, int64_t cols, const std::vector<float>& mean,
                           const std::vector<float>& stddev) {
  const std::size_t n = static_cast<std::size_t>(cols);
  if (mean.size() != n || stddev.size() != n) {
    throw Error(fmt::format("standardization has {} means and {} stddevs for {} features", mean.size(), stddev.size(), cols));
  }
  for (std::size_t i = 0; i < features.size(); ++i) {
    const std::size_t c = i % n;
    features[i] = standardize_value(features[i], mean[c], stddev[c]);
  }
}

void apply_standardization(DataSplit& split, const std::vector<float>& mean, const std::vector<float>& stddev) {
  if (split.rows == 0) return;
  apply_standardization(split.features, split.cols, mean, stddev);
}

Standardization read_standardization_file(const std::string& path, int64_t features) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot read the standardization file");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not JSON ({\"mean\": [...], \"stddev\": [...]}): " + e.what());
  }
  Standardization s;
  for (const char* key : {"mean", "stddev"}) {
    if (!j.is_object() || !j.contains(key) || !j[key].is_array()) {
      throw Error(path + ": needs \"" + key + "\", an array of one number per feature");
    }
    std::vector<float>& out = std::string(key) == "mean" ? s.mean : s.stddev;
    for (const auto& v : j[key]) {
      if (!v.is_number()) throw Error(path + ": \"" + key + "\" holds a non-number");
      out.push_back(v.get<float>());
    }
    if (static_cast<int64_t>(out.size()) != features) {
      throw Error(fmt::format("{}: \"{}\" has {} values, the data has {} features", path, key, out.size(), features));
    }
  }
  for (std::size_t c = 0; c < s.stddev.size(); ++c) {
    if (!std::isfinite(s.mean[c]) || !std::isfinite(s.stddev[c]) || !(s.stddev[c] > 0.0f)) {
      throw Error(fmt::format("{}: feature {} has mean {} and stddev {}; every stddev must be a positive number", path,
                              c, s.mean[c], s.stddev[c]));
    }
  }
  return s;
}

}  // namespace graft
