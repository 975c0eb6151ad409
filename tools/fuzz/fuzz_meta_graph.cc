// libFuzzer target: the MetaGraphDef parser (PREFIX.meta) and the dense
// network walk over the graph it holds. Built with -DGRAFT_BUILD_FUZZERS=ON
// (clang); run by tools/fuzz.sh.
#include "tools/fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  graft::fuzz::meta_graph_one(data, size);
  return 0;
}
