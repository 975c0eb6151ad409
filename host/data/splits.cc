#include "host/data/splits.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "checkpoint/error.h"
#include "host/data/shuffle_key.h"

namespace graft {

RowSplit stratified_split(const std::vector<int32_t>& labels, const SplitFractions& f) {
  for (const auto& [name, v] : {std::pair<const char*, double>{"--test-split", f.test}, {"--validation-split", f.validation}}) {
    if (!(v >= 0.0 && v < 1.0)) throw Error(fmt::format("{} {} is not a fraction in [0, 1)", name, v));
  }
  if (f.test + f.validation >= 1.0) {
    throw Error(fmt::format("--test-split {} and --validation-split {} leave no training rows", f.test, f.validation));
  }
  std::map<int32_t, std::vector<int64_t>> by_class;
  for (std::size_t i = 0; i < labels.size(); ++i) by_class[labels[i]].push_back(static_cast<int64_t>(i));
  RowSplit out;
  for (auto& [label, rows] : by_class) {
    std::vector<std::pair<uint64_t, int64_t>> keyed;
    keyed.reserve(rows.size());
    for (std::size_t j = 0; j < rows.size(); ++j) {
      keyed.emplace_back(shuffle_key(f.seed, static_cast<uint64_t>(label), j), rows[j]);
    }
    std::sort(keyed.begin(), keyed.end());
    const auto n = static_cast<double>(rows.size());
    const auto n_test = static_cast<std::size_t>(std::llround(f.test * n));
    const auto n_valid = std::min(static_cast<std::size_t>(std::llround(f.validation * n)), rows.size() - n_test);
    for (std::size_t j = 0; j < keyed.size(); ++j) {
      (j < n_test ? out.test : j < n_test + n_valid ? out.validation : out.train).push_back(keyed[j].second);
    }
  }
  for (auto* v : {&out.train, &out.validation, &out.test}) std::sort(v->begin(), v->end());
  return out;
}

std::string split_table(const std::vector<int32_t>& train, const std::vector<int32_t>& validation,
                        const std::vector<int32_t>& test, const std::vector<std::string>& class_names) {
  std::map<int32_t, int64_t> counts[3];
  const std::vector<int32_t>* parts[3] = {&train, &validation, &test};
  std::map<int32_t, bool> labels;
  for (int p = 0; p < 3; ++p) {
    for (int32_t l : *parts[p]) {
      ++counts[p][l];
      labels[l] = true;
    }
  }
  std::string out = fmt::format("  {:<12} {:>9} {:>11} {:>9}\n", "class", "train", "validation", "test");
  for (const auto& [label, unused] : labels) {
    const std::string name = label >= 0 && static_cast<std::size_t>(label) < class_names.size()
                                 ? class_names[static_cast<std::size_t>(label)]
                                 : std::to_string(label);
    out += fmt::format("  {:<12} {:>9} {:>11} {:>9}\n", name, counts[0][label], counts[1][label], counts[2][label]);
  }
  out += fmt::format("  {:<12} {:>9} {:>11} {:>9}\n", "total", train.size(), validation.size(), test.size());
  return out;
}

}  // namespace graft
