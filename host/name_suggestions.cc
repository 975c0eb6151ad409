#include "host/name_suggestions.h"

#include <algorithm>
#include <tuple>

namespace graft {
namespace {

// Number of trailing '/'-separated components a and b share.
std::size_t common_suffix_components(const std::string& a, const std::string& b) {
  std::size_t n = 0, i = a.size(), j = b.size();
  while (i > 0 && j > 0) {
    const std::size_t ai = a.rfind('/', i - 1), bj = b.rfind('/', j - 1);
    const std::size_t as = ai == std::string::npos ? 0 : ai + 1, bs = bj == std::string::npos ? 0 : bj + 1;
    if (a.compare(as, i - as, b, bs, j - bs) != 0) break;
    ++n;
    if (as == 0 || bs == 0) break;
    i = as - 1;
    j = bs - 1;
  }
  return n;
}

std::string regex_escape(const std::string& s) {
  static const std::string special = R"(\^$.|?*+()[]{})";
  std::string out;
  for (char c : s) {
    if (special.find(c) != std::string::npos) out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::vector<std::string> closest_names(const std::string& target, const std::vector<std::string>& candidates,
                                       std::size_t count) {
  std::vector<std::tuple<std::size_t, std::size_t, std::string>> ranked;  // (-suffix, distance, name)
  for (const auto& c : candidates) {
    ranked.emplace_back(~common_suffix_components(target, c), edit_distance(target, c), c);
  }
  std::sort(ranked.begin(), ranked.end());
  std::vector<std::string> out;
  for (std::size_t i = 0; i < ranked.size() && i < count; ++i) out.push_back(std::get<2>(ranked[i]));
  return out;
}

std::string suggest_rename(const std::string& from, const std::string& to) {
  // Longest common suffix that starts at a component boundary in both names.
  std::size_t k = 0;
  while (k < from.size() && k < to.size() && from[from.size() - 1 - k] == to[to.size() - 1 - k]) ++k;
  while (k > 0) {
    const std::size_t fs = from.size() - k, ts = to.size() - k;
    const bool f_ok = fs == 0 || from[fs - 1] == '/';
    const bool t_ok = ts == 0 || to[ts - 1] == '/';
    if (f_ok && t_ok) break;
    --k;
  }
  if (k > 0 && k < from.size()) {
    // from = P + S, to = Q + S: map the scope P onto Q for every variable.
    return regex_escape(from.substr(0, from.size() - k)) + "(.*)=" + to.substr(0, to.size() - k) + "$1";
  }
  return "^" + regex_escape(from) + "$=" + to;
}

}  // namespace graft
