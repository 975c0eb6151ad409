// fuzz_seed_meta_graph OUTDIR: writes the hand-built .meta graphs of
// tests/common/meta_graph_seeds.h (fused and tf.contrib batch norms, an input
// transform) into OUTDIR, as seeds for fuzz_meta_graph beside the fixtures'
// graphs. Used by tools/fuzz.sh; seeds are never stored in the repository.
#include <cstdio>
#include <fstream>
#include <string>

#include "tests/common/meta_graph_seeds.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seed_meta_graph OUTDIR\n");
    return 2;
  }
  int n = 0;
  for (const auto& [name, bytes] : graft::test::meta_graph_seeds()) {
    std::ofstream(std::string(argv[1]) + "/" + name, std::ios::binary) << bytes;
    ++n;
  }
  std::printf("%d .meta seeds\n", n);
  return 0;
}
