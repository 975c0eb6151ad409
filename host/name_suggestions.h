#pragma once
// "Did you mean" help for variable names that do not line up between a
// model and a checkpoint: the closest checkpoint names, and the --rename rule
// that would map one onto the other.
#include <string>
#include <vector>

namespace graft {

// Up to `count` of `candidates` closest to `target`: a longer common suffix
// (whole path components first) ranks higher, then a smaller edit distance.
std::vector<std::string> closest_names(const std::string& target, const std::vector<std::string>& candidates,
                                       std::size_t count = 3);

// A --rename rule (REGEX=REPLACEMENT) that maps checkpoint name `from` onto
// model name `to`: a scope rule such as "dnn/(.*)=$1" when the two differ only
// in leading path components, else a rule for the one name.
std::string suggest_rename(const std::string& from, const std::string& to);

// Levenshtein distance (bytes).
std::size_t edit_distance(const std::string& a, const std::string& b);

}  // namespace graft
