// Checkpoint I/O alone (graft::checkpoint): lists a checkpoint's tensors.
#include <cstdio>

#include "checkpoint/bundle_reader.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: list_checkpoint CHECKPOINT_PREFIX\n");
    return 2;
  }
  const graft::BundleReader reader = graft::BundleReader::open(argv[1]);
  for (const auto& e : reader.entries()) std::printf("%s %s\n", e.info.name.c_str(), graft::shape_string(e.info.shape).c_str());
  return 0;
}
