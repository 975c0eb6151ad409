// A deterministic stand-in for the data-file fuzzers (tools/fuzz/fuzz_npy,
// fuzz_csv, fuzz_npz) that runs in every ctest: valid seeds, each mutated a
// few thousand ways (bytes flipped, set to 0x00/0xff/digits/quotes/commas,
// cut short, duplicated), fed to the same harness functions. Only
// graft::Error may come out (the harness catches it); a crash or another
// exception fails. Under the sanitizer build this is a small fuzz run.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "host/data/npy.h"
#include "host/data/npz.h"
#include "tests/common/fixtures.h"
#include "tools/fuzz/harness.h"

namespace graft {
namespace {

std::string mutate(std::string s, std::mt19937& rng) {
  static const char kBytes[] = {'\0', '\xff', '0', '9', '"', ',', '\n', '(', ')', '\'', '-', 'e', '.', ' '};
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits && !s.empty(); ++e) {
    const std::size_t at = rng() % s.size();
    switch (rng() % 5) {
      case 0: s[at] = static_cast<char>(s[at] ^ (1 << (rng() % 8))); break;
      case 1: s[at] = kBytes[rng() % sizeof kBytes]; break;
      case 2: s.resize(at); break;
      case 3: s.insert(at, s.substr(at, 1 + rng() % 16)); break;
      default: s.erase(at, 1 + rng() % 4); break;
    }
  }
  return s;
}

void run_mutations(void (*harness)(const uint8_t*, std::size_t), const std::vector<std::string>& seeds, int n) {
  std::mt19937 rng(12345);
  for (const std::string& seed : seeds) {
    for (int i = 0; i < n; ++i) {
      const std::string input = mutate(seed, rng);
      ASSERT_NO_THROW(harness(reinterpret_cast<const uint8_t*>(input.data()), input.size())) << i;
    }
  }
}

TEST(DataMutations, NpyParserOnlyEverThrowsGraftErrors) {
  run_mutations(fuzz::npy_one, {npy_image_f32({1, 2, 3, 4}, 2, 2), npy_image_i32({3, 1, 2})}, 3000);
}

TEST(DataMutations, CsvReaderOnlyEverThrowsGraftErrors) {
  run_mutations(fuzz::csv_one, {"a,b,label\n1.5,2,0\n3,-4e2,1\n", "x,\"species\"\r\n1,\"cat\"\r\n2,\"dog, spotted\"\r\n"},
                500);
}

TEST(DataMutations, NpzReaderOnlyEverThrowsGraftErrors) {
  test::TempDir dir;
  const std::string path = (dir / "seed.npz").string();
  write_npz(path, {{"x_train", npy_image_f32({1, 2, 3, 4}, 2, 2)}, {"y_train", npy_image_i32({0, 1})}});
  std::ifstream in(path, std::ios::binary);
  const std::string seed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  run_mutations(fuzz::npz_one, {seed}, 500);
}

}  // namespace
}  // namespace graft
