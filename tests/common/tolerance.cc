#include "tests/common/tolerance.h"

#include <cmath>

namespace graft::test {

::testing::AssertionResult all_close(const float* actual, const float* reference, int64_t n,
                                     double atol, double rtol) {
  int64_t bad = 0, worst = -1;
  double worst_excess = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double a = actual[i], r = reference[i];
    const double allowed = atol + rtol * std::fabs(r);
    const double diff = std::fabs(a - r);
    const bool ok = (std::isfinite(a) && std::isfinite(r)) ? diff <= allowed : (a == r || (std::isnan(a) && std::isnan(r)));
    if (!ok) {
      ++bad;
      const double excess = std::isfinite(diff) ? diff / allowed : INFINITY;
      if (worst < 0 || excess > worst_excess) {
        worst = i;
        worst_excess = excess;
      }
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << bad << " of " << n << " elements outside atol=" << atol << " rtol=" << rtol
         << "; worst at [" << worst << "]: " << actual[worst] << " vs reference "
         << reference[worst];
}

}  // namespace graft::test
