#pragma once
// Stratified, reproducible splits of one set of rows: each class's rows are
// ordered by shuffle_key(seed, label, j) (j = the row's position among its
// class's rows), the first round(test_fraction * n) of them go to the test
// split, the next round(validation_fraction * n) to validation, the rest to
// training. A class's split depends only on its own rows and the seed, so
// choosing classes later (--classes) leaves every row where it was.
#include <cstdint>
#include <string>
#include <vector>

namespace graft {

struct SplitFractions {
  double test = 0.0;
  double validation = 0.0;
  uint64_t seed = 42;
};

// Row indices of each split, in file order.
struct RowSplit {
  std::vector<int64_t> train, validation, test;
};

// Throws graft::Error when a fraction is outside [0, 1) or they sum to 1 or more.
RowSplit stratified_split(const std::vector<int32_t>& labels, const SplitFractions& fractions);

// Rows per class of each split, as a table (class names where known):
//   class     train  validation   test
//   cat          80          10     10
//   total       ...
std::string split_table(const std::vector<int32_t>& train, const std::vector<int32_t>& validation,
                        const std::vector<int32_t>& test, const std::vector<std::string>& class_names);

}  // namespace graft
