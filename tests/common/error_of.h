#pragma once
// The message of the graft::Error that fn throws, "" when it throws none:
// for tests that check what an error says, not only that there is one.
#include <string>

#include "checkpoint/error.h"

namespace graft::test {

template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace graft::test
