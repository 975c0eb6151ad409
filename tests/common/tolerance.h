#pragma once
// Comparing float arrays with a stated tolerance: |a - ref| <= atol + rtol*|ref|
// for every element. On failure the message names the worst element.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace graft::test {

::testing::AssertionResult all_close(const float* actual, const float* reference, int64_t n,
                                     double atol, double rtol);

inline ::testing::AssertionResult all_close(const std::vector<float>& actual,
                                            const std::vector<float>& reference, double atol,
                                            double rtol) {
  if (actual.size() != reference.size()) {
    return ::testing::AssertionFailure()
           << "size " << actual.size() << " != reference size " << reference.size();
  }
  return all_close(actual.data(), reference.data(), static_cast<int64_t>(actual.size()), atol,
                   rtol);
}

}  // namespace graft::test
