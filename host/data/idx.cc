#include "host/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "checkpoint/error.h"

namespace graft {
namespace {

// No IDX data set graft reads comes near this; a header claiming more is
// corrupt (or hostile) and must not drive an allocation.
constexpr int64_t kMaxBytes = int64_t{1} << 32;
constexpr int64_t kMaxDim = int64_t{1} << 28;

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzHandle = std::unique_ptr<gzFile_s, GzCloser>;

// Reads exactly n bytes; returns how many arrived before end of file.
int64_t read_fully(gzFile f, const std::string& path, uint8_t* dst, int64_t n) {
  int64_t got = 0;
  while (got < n) {
    const unsigned chunk = static_cast<unsigned>(std::min<int64_t>(n - got, 1 << 30));
    const int r = gzread(f, dst + got, chunk);
    if (r < 0) {
      int code = 0;
      const char* msg = gzerror(f, &code);
      throw Error(path + ": read error: " + (msg ? msg : "unknown"));
    }
    if (r == 0) break;
    got += r;
  }
  return got;
}

}  // namespace

IdxArray read_idx_u8(const std::string& path, int expected_rank) {
  // gzread passes uncompressed files through unchanged.
  GzHandle f(gzopen(path.c_str(), "rb"));
  if (!f) throw Error(path + ": cannot open");
  gzbuffer(f.get(), 1 << 17);

  uint8_t magic[4];
  if (read_fully(f.get(), path, magic, 4) != 4) throw Error(path + ": too short for an IDX header");
  if (magic[0] != 0 || magic[1] != 0) throw Error(path + ": not an IDX file (bad magic)");
  if (magic[2] != 0x08) {
    char type[8];
    std::snprintf(type, sizeof type, "0x%02x", magic[2]);
    throw Error(path + ": IDX element type " + type + " is not unsigned byte (0x08)");
  }
  if (magic[3] != expected_rank) {
    throw Error(path + ": IDX rank " + std::to_string(magic[3]) + ", expected " + std::to_string(expected_rank));
  }

  IdxArray out;
  int64_t total = 1;
  for (int d = 0; d < expected_rank; ++d) {
    uint8_t b[4];
    if (read_fully(f.get(), path, b, 4) != 4) throw Error(path + ": truncated IDX header");
    const int64_t dim = (int64_t{b[0]} << 24) | (int64_t{b[1]} << 16) | (int64_t{b[2]} << 8) | int64_t{b[3]};
    if (dim <= 0 || dim > kMaxDim) throw Error(path + ": absurd IDX dimension " + std::to_string(dim));
    total *= dim;
    if (total > kMaxBytes) throw Error(path + ": IDX header claims more than 4 GiB of data");
    out.dims.push_back(dim);
  }

  // Grow with the data actually present, so a lying header on a short file
  // costs no more memory than the file holds.
  constexpr int64_t kChunk = int64_t{1} << 24;
  int64_t got = 0;
  while (got < total) {
    const int64_t want = std::min(kChunk, total - got);
    out.data.resize(static_cast<std::size_t>(got + want));
    const int64_t r = read_fully(f.get(), path, out.data.data() + got, want);
    got += r;
    if (r < want) {
      throw Error(path + ": data ends after " + std::to_string(got) + " of " + std::to_string(total) +
                  " bytes the header announces");
    }
  }
  return out;
}

}  // namespace graft
