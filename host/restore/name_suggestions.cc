#include "host/restore/name_suggestions.h"

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

std::vector<std::string> split_components(const std::string& name) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = name.find('/', start);
    out.push_back(name.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) return out;
    start = slash + 1;
  }
}

// parts[begin, end) joined with '/'.
std::string join_components(const std::vector<std::string>& parts, std::size_t begin, std::size_t end) {
  std::string out;
  for (std::size_t i = begin; i < end; ++i) out += (i > begin ? "/" : "") + parts[i];
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
  // Align the two names on their longest common run of whole path
  // components: from = P + RUN + S, to = Q + RUN + T. The run becomes the
  // group, so the rule maps every variable of the scope, not just this one
  // ("dnn/hidden1/kernel" -> "hidden1/kernel" gives "^dnn/(.*)=$1";
  // "layer_with_weights-0/kernel" -> "hidden1/kernel" gives
  // "^layer_with_weights-0/(.*)=hidden1/$1").
  const std::vector<std::string> f = split_components(from), t = split_components(to);
  std::size_t best = 0, best_f = 0, best_t = 0;
  for (std::size_t i = 0; i < f.size(); ++i) {
    for (std::size_t j = 0; j < t.size(); ++j) {
      std::size_t n = 0;
      while (i + n < f.size() && j + n < t.size() && f[i + n] == t[j + n]) ++n;
      // Prefer the longer run, then the one nearer the end (the leaf).
      if (n > best || (n == best && n > 0 && i + n == f.size() && j + n == t.size())) {
        best = n;
        best_f = i;
        best_t = j;
      }
    }
  }
  const std::string from_prefix = join_components(f, 0, best_f), to_prefix = join_components(t, 0, best_t);
  if (best == f.size() && !to_prefix.empty() && best_t + best == t.size()) {
    return "^(.*)=" + to_prefix + "/$1";  // the model puts every name under a scope
  }
  if (best == 0 || best == f.size()) return "^" + regex_escape(from) + "$=" + to;
  const std::string from_suffix = join_components(f, best_f + best, f.size());
  const std::string to_suffix = join_components(t, best_t + best, t.size());
  std::string pattern = "^" + (from_prefix.empty() ? "" : regex_escape(from_prefix) + "/") + "(.*)";
  std::string replacement = (to_prefix.empty() ? "" : to_prefix + "/") + "$1";
  if (!from_suffix.empty() || !to_suffix.empty()) {
    pattern += (from_suffix.empty() ? "" : "/" + regex_escape(from_suffix)) + "$";
    replacement += to_suffix.empty() ? "" : "/" + to_suffix;
  }
  return pattern + "=" + replacement;
}

}  // namespace graft
