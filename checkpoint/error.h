#pragma once
// The one error type of the library. Messages carry their context (file,
// tensor, step) so the CLI can print them as a single line; the library never
// calls exit().
#include <stdexcept>
#include <string>

namespace graft {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace graft
