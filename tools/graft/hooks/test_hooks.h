#pragma once
// Hooks the CLI tests drive, compiled only into build/tests/graft-test-hooks
// (hooks/on.cc); the production `graft` links hooks/off.cc, where every hook
// is inert, so no environment variable can steer it.
#include <cstdint>

namespace graft::cli {

// GRAFT_TEST_STOP_AFTER_STEPS=N: `graft train` raises SIGINT at itself after
// the N-th step of the run, to test the interrupt path deterministically.
// 0 when off.
int64_t test_stop_after_steps();

}  // namespace graft::cli
