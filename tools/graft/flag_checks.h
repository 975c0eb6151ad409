#pragma once
// CLI11 validators shared by the subcommands: checks a flag's text before
// anything runs, so the error names the flag (one line, exit 1).
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdlib>
#include <string>

namespace graft::cli {

// A finite number: refuses nan, inf (which CLI11 converts to float happily).
inline CLI::Validator finite_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (end == text.c_str()) return {};  // not a number: CLI11's conversion says so
        if (!std::isfinite(v)) return "must be a finite number, got '" + text + "'";
        return {};
      },
      "FINITE");
}

// Integers at least `min` (CLI11's NonNegativeNumber/PositiveNumber print a
// 300-digit double as the upper bound).
inline CLI::Validator at_least(long long min, const char* name) {
  return CLI::Validator(
      [min](std::string& text) -> std::string {
        char* end = nullptr;
        const long long v = std::strtoll(text.c_str(), &end, 10);
        if (end == text.c_str()) return {};  // CLI11's conversion reports it
        if (v < min) return "must be at least " + std::to_string(min) + ", got '" + text + "'";
        return {};
      },
      name);
}
inline CLI::Validator non_negative() { return at_least(0, "NONNEGATIVE"); }
inline CLI::Validator positive() { return at_least(1, "POSITIVE"); }

}  // namespace graft::cli
