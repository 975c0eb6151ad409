#pragma once
// Per-class results from per-row predictions: the confusion matrix (rows:
// the true output, columns: the predicted one; it sums to the row count) and,
// per class, its rows, the rows predicted as it, the hits, precision and
// recall. A class's accuracy is its recall: the share of its rows predicted
// right. Precision is absent (not zero) for a class nothing was predicted as.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace graft {

struct ClassResult {
  std::string name;             // output_names()
  int64_t rows = 0;             // rows whose true class it is
  int64_t predicted = 0;        // rows predicted as it
  int64_t correct = 0;          // both
  std::optional<double> precision;  // correct / predicted
  std::optional<double> recall;     // correct / rows (the class's accuracy)
};

struct ClassReport {
  std::vector<std::string> names;            // one per output
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted], outputs x outputs
  std::vector<ClassResult> classes;          // outputs with rows or predictions, in output order
  int64_t rows = 0, correct = 0;

  std::string text() const;  // per-class table, then the confusion matrix
  nlohmann::json json() const;
};

// truth[i], predicted[i]: output indices in [0, names.size()). Throws
// graft::Error for sizes that differ or an index out of range.
ClassReport class_report(const std::vector<int32_t>& truth, const std::vector<int32_t>& predicted,
                         const std::vector<std::string>& names);

}  // namespace graft
