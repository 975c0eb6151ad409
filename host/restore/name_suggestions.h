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
// model name `to`. The names are aligned on their longest common run of
// whole path components, which becomes the rule's group, so the rule covers
// the whole scope:
//   dnn/hidden1/kernel          -> hidden1/kernel   "^dnn/(.*)=$1"
//   dnn/hidden1/kernal          -> hidden1/kernel   "^dnn/(.*)/kernal$=$1/kernel"
//   layer_with_weights-0/kernel -> hidden1/kernel   "^layer_with_weights-0/(.*)=hidden1/$1"
//   hidden1/kernel              -> dnn/hidden1/kernel  "^(.*)=dnn/$1"
// With no common component it is a rule for the one name ("^a/b$=c/d").
std::string suggest_rename(const std::string& from, const std::string& to);

// Levenshtein distance (bytes).
std::size_t edit_distance(const std::string& a, const std::string& b);

}  // namespace graft
