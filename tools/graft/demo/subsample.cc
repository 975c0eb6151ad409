#include "tools/graft/demo/subsample.h"

#include <algorithm>
#include <random>
#include <vector>

namespace graft {

Dataset subsample_per_class(const Dataset& data, int64_t n, uint64_t seed) {
  std::vector<std::vector<int64_t>> rows_of(static_cast<std::size_t>(std::max(data.num_classes, 1)));
  for (int64_t r = 0; r < data.train.rows; ++r) {
    const auto label = static_cast<std::size_t>(data.train.labels[static_cast<std::size_t>(r)]);
    if (label >= rows_of.size()) rows_of.resize(label + 1);
    rows_of[label].push_back(r);
  }
  std::vector<int64_t> keep;
  for (std::size_t c = 0; c < rows_of.size(); ++c) {
    std::vector<int64_t>& rows = rows_of[c];
    // One stream per (seed, class): the order of a class does not depend on
    // the others, so n = 10 is a prefix of n = 30.
    std::mt19937_64 rng(seed * 1000003u + c);
    std::shuffle(rows.begin(), rows.end(), rng);
    rows.resize(static_cast<std::size_t>(std::min<int64_t>(n, static_cast<int64_t>(rows.size()))));
    keep.insert(keep.end(), rows.begin(), rows.end());
  }
  std::sort(keep.begin(), keep.end());  // file order, as load_dataset keeps it

  Dataset out;
  out.validation = data.validation;
  out.test = data.test;
  out.num_classes = data.num_classes;
  out.original_labels = data.original_labels;
  out.train.cols = data.train.cols;
  out.train.rows = static_cast<int64_t>(keep.size());
  const auto cols = static_cast<std::size_t>(data.train.cols);
  out.train.features.resize(keep.size() * cols);
  out.train.labels.resize(keep.size());
  for (std::size_t i = 0; i < keep.size(); ++i) {
    const auto r = static_cast<std::size_t>(keep[i]);
    std::copy_n(data.train.features.begin() + static_cast<std::ptrdiff_t>(r * cols), cols,
                out.train.features.begin() + static_cast<std::ptrdiff_t>(i * cols));
    out.train.labels[i] = data.train.labels[r];
  }
  return out;
}

}  // namespace graft
