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

}  // namespace graft::cli
