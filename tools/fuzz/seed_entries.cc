// fuzz_seed_entries INDEX... OUTDIR: writes every BundleEntryProto value (and
// the header) of the given .index files into OUTDIR, one file each, as seeds
// for fuzz_entry_proto. Used by tools/fuzz.sh.
#include <cstdio>
#include <fstream>
#include <string>

#include "checkpoint/error.h"
#include "checkpoint/file_io.h"
#include "checkpoint/sstable.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: fuzz_seed_entries INDEX... OUTDIR\n");
    return 2;
  }
  const std::string out = argv[argc - 1];
  int n = 0;
  for (int i = 1; i < argc - 1; ++i) {
    try {
      const graft::file_io::MappedFile file(argv[i]);
      for (const auto& [key, value] : graft::sstable::read_all(file)) {
        std::ofstream(out + "/entry-" + std::to_string(n++), std::ios::binary) << value;
      }
    } catch (const graft::Error& e) {
      std::fprintf(stderr, "fuzz_seed_entries: %s\n", e.what());
      return 1;
    }
  }
  std::printf("%d entries\n", n);
  return 0;
}
