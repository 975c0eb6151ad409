// fuzz_seed_keras_metadata OUTDIR: writes keras_metadata.pb files as Keras
// writes them (tools/fuzz/harness.h keras_metadata_seeds) into OUTDIR, as
// seeds for fuzz_keras_metadata. Used by tools/fuzz.sh.
#include <cstdio>
#include <fstream>
#include <string>

#include "tools/fuzz/harness.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seed_keras_metadata OUTDIR\n");
    return 2;
  }
  int n = 0;
  for (const auto& [name, bytes] : graft::fuzz::keras_metadata_seeds()) {
    std::ofstream(std::string(argv[1]) + "/" + name + ".pb", std::ios::binary) << bytes;
    ++n;
  }
  std::printf("%d keras_metadata.pb seeds\n", n);
  return 0;
}
