// libFuzzer target: a SavedModel's keras_metadata.pb (the SavedMetadata
// proto and the Keras JSON inside it) and the model laid over a fixed
// SavedModel's variables. Built with -DGRAFT_BUILD_FUZZERS=ON (clang); run
// by tools/fuzz.sh, seeded by fuzz_seed_keras_metadata.
#include "tools/fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  graft::fuzz::keras_metadata_one(data, size);
  return 0;
}
