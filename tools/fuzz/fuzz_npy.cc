// libFuzzer target: the .npy parser and its feature/label conversions.
// Built with -DGRAFT_BUILD_FUZZERS=ON (clang); run by tools/fuzz.sh.
#include "tools/fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  graft::fuzz::npy_one(data, size);
  return 0;
}
