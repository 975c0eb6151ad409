#include "host/data/overlap.h"

#include <fmt/format.h>

#include <cstring>
#include <string_view>
#include <unordered_set>

namespace graft {
namespace {

std::string_view row_bytes(const DataSplit& s, int64_t r) {
  const float* row = s.features.data() + r * s.cols;
  return {reinterpret_cast<const char*>(row), static_cast<std::size_t>(s.cols) * sizeof(float)};
}

}  // namespace

int64_t rows_also_in(const DataSplit& test, const DataSplit& train) {
  if (test.cols != train.cols || test.rows == 0 || train.rows == 0) return 0;
  // Views into train's features: std::hash<string_view> hashes the bytes,
  // equality compares them, so a hash collision never counts as a match.
  std::unordered_set<std::string_view> seen;
  seen.reserve(static_cast<std::size_t>(train.rows));
  for (int64_t r = 0; r < train.rows; ++r) seen.insert(row_bytes(train, r));
  int64_t found = 0;
  for (int64_t r = 0; r < test.rows; ++r) found += seen.count(row_bytes(test, r)) ? 1 : 0;
  return found;
}

std::string train_test_overlap_warning(const DataSplit& train, const DataSplit& test) {
  const int64_t both = rows_also_in(test, train);
  // A few duplicates occur in real data sets (MNIST has some); a large share
  // is a test folder that is the training data.
  if (both * 100 <= test.rows) return "";
  return fmt::format("warning: {} of {} test rows ({:.0f}%) are also training rows: test accuracy measures "
                     "memorisation, not generalisation (test on data the model has not seen)",
                     both, test.rows, 100.0 * static_cast<double>(both) / static_cast<double>(test.rows));
}

}  // namespace graft
