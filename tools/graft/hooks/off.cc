// The production binary: every test hook is off (hooks/test_hooks.h).
#include "tools/graft/hooks/test_hooks.h"

namespace graft::cli {

int64_t test_stop_after_steps() { return 0; }

}  // namespace graft::cli
