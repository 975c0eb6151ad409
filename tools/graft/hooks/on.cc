// build/tests/graft-test-hooks: the hooks read their environment variables
// (hooks/test_hooks.h).
#include <cstdlib>

#include "tools/graft/hooks/test_hooks.h"

namespace graft::cli {

int64_t test_stop_after_steps() {
  const char* text = std::getenv("GRAFT_TEST_STOP_AFTER_STEPS");
  if (!text) return 0;
  char* end = nullptr;
  const long long n = std::strtoll(text, &end, 10);
  return end != text && *end == '\0' && n > 0 ? static_cast<int64_t>(n) : 0;
}

}  // namespace graft::cli
