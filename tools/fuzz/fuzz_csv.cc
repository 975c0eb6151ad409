// libFuzzer target: the CSV reader (libcsv) with and without a label column.
// Built with -DGRAFT_BUILD_FUZZERS=ON (clang); run by tools/fuzz.sh.
#include "tools/fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  graft::fuzz::csv_one(data, size);
  return 0;
}
