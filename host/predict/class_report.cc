#include "host/predict/class_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "checkpoint/error.h"

namespace graft {

ClassReport class_report(const std::vector<int32_t>& truth, const std::vector<int32_t>& predicted,
                         const std::vector<std::string>& names) {
  if (truth.size() != predicted.size()) {
    throw Error(fmt::format("class_report: {} true labels for {} predictions", truth.size(), predicted.size()));
  }
  const auto n = static_cast<int32_t>(names.size());
  ClassReport r;
  r.names = names;
  r.confusion.assign(names.size(), std::vector<int64_t>(names.size(), 0));
  for (std::size_t i = 0; i < truth.size(); ++i) {
    if (truth[i] < 0 || truth[i] >= n || predicted[i] < 0 || predicted[i] >= n) {
      throw Error(fmt::format("class_report: row {}: output {} or {} is not one of the {} outputs", i, truth[i],
                              predicted[i], n));
    }
    ++r.confusion[static_cast<std::size_t>(truth[i])][static_cast<std::size_t>(predicted[i])];
  }
  r.rows = static_cast<int64_t>(truth.size());
  for (std::size_t c = 0; c < names.size(); ++c) {
    ClassResult k;
    k.name = names[c];
    for (std::size_t o = 0; o < names.size(); ++o) {
      k.rows += r.confusion[c][o];
      k.predicted += r.confusion[o][c];
    }
    k.correct = r.confusion[c][c];
    r.correct += k.correct;
    if (k.rows == 0 && k.predicted == 0) continue;
    if (k.predicted > 0) k.precision = static_cast<double>(k.correct) / static_cast<double>(k.predicted);
    if (k.rows > 0) k.recall = static_cast<double>(k.correct) / static_cast<double>(k.rows);
    r.classes.push_back(k);
  }
  return r;
}

std::string ClassReport::text() const {
  auto fraction = [](const std::optional<double>& v) { return v ? fmt::format("{:.4f}", *v) : std::string("-"); };
  std::size_t width = 5;
  for (const std::string& n : names) width = std::max(width, n.size());
  std::string out = fmt::format("per class (accuracy of a class = its recall):\n  {:<{}} {:>8} {:>9} {:>8} {:>9} {:>8}\n",
                                "class", width, "rows", "predicted", "correct", "precision", "recall");
  for (const ClassResult& k : classes) {
    out += fmt::format("  {:<{}} {:>8} {:>9} {:>8} {:>9} {:>8}\n", k.name, width, k.rows, k.predicted, k.correct,
                       fraction(k.precision), fraction(k.recall));
  }
  // The matrix over the classes listed above (others are all zero).
  std::vector<std::size_t> shown;
  for (std::size_t c = 0; c < names.size(); ++c) {
    if (std::any_of(classes.begin(), classes.end(), [&](const ClassResult& k) { return k.name == names[c]; })) {
      shown.push_back(c);
    }
  }
  std::size_t cell = 6;
  for (std::size_t c : shown) cell = std::max(cell, names[c].size() + 1);
  out += fmt::format("confusion matrix (rows: true class, columns: predicted; {} rows in all):\n  {:<{}}", rows, "",
                     width);
  for (std::size_t c : shown) out += fmt::format(" {:>{}}", names[c], cell);
  out += "\n";
  for (std::size_t t : shown) {
    out += fmt::format("  {:<{}}", names[t], width);
    for (std::size_t p : shown) out += fmt::format(" {:>{}}", confusion[t][p], cell);
    out += "\n";
  }
  return out;
}

nlohmann::json ClassReport::json() const {
  nlohmann::json j;
  j["names"] = names;
  j["confusion"] = confusion;
  j["rows"] = rows;
  j["correct"] = correct;
  for (const ClassResult& k : classes) {
    nlohmann::json c{{"name", k.name}, {"rows", k.rows}, {"predicted", k.predicted}, {"correct", k.correct}};
    c["precision"] = k.precision ? nlohmann::json(*k.precision) : nlohmann::json(nullptr);
    c["recall"] = k.recall ? nlohmann::json(*k.recall) : nlohmann::json(nullptr);
    j["classes"].push_back(c);
  }
  return j;
}

}  // namespace graft
