#include "host/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
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

namespace graft {
namespace {

struct IdxNumbers {
  std::vector<int64_t> dims;
  int type = 0;
  std::vector<double> values;
};

int idx_type_size(int type) {
  switch (type) {
    case 0x08: case 0x09: return 1;
    case 0x0B: return 2;
    case 0x0C: case 0x0D: return 4;
    case 0x0E: return 8;
    default: return 0;
  }
}

IdxNumbers read_idx_numbers(const std::string& path, const DataLimits& limits) {
  GzHandle f(gzopen(path.c_str(), "rb"));
  if (!f) throw Error(path + ": cannot open");
  gzbuffer(f.get(), 1 << 17);
  uint8_t magic[4];
  if (read_fully(f.get(), path, magic, 4) != 4) throw Error(path + ": too short for an IDX header");
  if (magic[0] != 0 || magic[1] != 0) throw Error(path + ": not an IDX file (bad magic)");
  IdxNumbers out;
  out.type = magic[2];
  const int size = idx_type_size(out.type);
  if (size == 0) {
    char type[8];
    std::snprintf(type, sizeof type, "0x%02x", magic[2]);
    throw Error(path + ": IDX element type " + type + " is not one of 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E");
  }
  if (magic[3] == 0) throw Error(path + ": IDX rank 0");
  int64_t total = 1;
  for (int d = 0; d < magic[3]; ++d) {
    uint8_t b[4];
    if (read_fully(f.get(), path, b, 4) != 4) throw Error(path + ": truncated IDX header");
    const int64_t dim = (int64_t{b[0]} << 24) | (int64_t{b[1]} << 16) | (int64_t{b[2]} << 8) | int64_t{b[3]};
    if (dim <= 0 || dim > kMaxDim) throw Error(path + ": absurd IDX dimension " + std::to_string(dim));
    total *= dim;
    if (total > kMaxBytes) throw Error(path + ": IDX header claims more than 4 Gi elements");
    out.dims.push_back(dim);
  }
  check_data_size(total * static_cast<int64_t>(sizeof(float)), limits, path, "its values as float32");
  // In chunks, so a lying header on a short file costs no more than the file holds.
  constexpr int64_t kChunk = int64_t{1} << 20;
  std::vector<uint8_t> buffer;
  int64_t done = 0;
  while (done < total) {
    const int64_t n = std::min(kChunk, total - done);
    buffer.resize(static_cast<std::size_t>(n * size));
    const int64_t r = read_fully(f.get(), path, buffer.data(), n * size);
    if (r < n * size) {
      throw Error(path + ": data ends after " + std::to_string(done * size + r) + " of " + std::to_string(total * size) +
                  " bytes the header announces");
    }
    out.values.reserve(static_cast<std::size_t>(done + n));
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t* p = buffer.data() + i * size;
      uint64_t bits = 0;
      for (int k = 0; k < size; ++k) bits = (bits << 8) | p[k];  // big-endian
      double v = 0;
      switch (out.type) {
        case 0x08: v = static_cast<double>(bits); break;
        case 0x09: v = static_cast<int8_t>(bits); break;
        case 0x0B: v = static_cast<int16_t>(bits); break;
        case 0x0C: v = static_cast<int32_t>(bits); break;
        case 0x0D: {
          const uint32_t b32 = static_cast<uint32_t>(bits);
          float x;
          std::memcpy(&x, &b32, 4);
          v = x;
          break;
        }
        default: std::memcpy(&v, &bits, 8);
      }
      out.values.push_back(v);
    }
    done += n;
  }
  return out;
}

}  // namespace

RawData read_idx_features(const std::string& path, const DataLimits& limits) {
  IdxNumbers n = read_idx_numbers(path, limits);
  RawData out;
  out.origin = path;
  out.rows = n.dims[0];
  out.cols = 1;
  for (std::size_t i = 1; i < n.dims.size(); ++i) out.cols *= n.dims[i];
  out.natural_scale = n.type == 0x08 ? 1.0 / 255.0 : 1.0;
  out.features.resize(n.values.size());
  for (std::size_t i = 0; i < n.values.size(); ++i) {
    const float f = static_cast<float>(n.values[i]);
    if (!std::isfinite(f)) {
      throw Error(path + ": row " + std::to_string(static_cast<int64_t>(i) / out.cols) + " column " +
                  std::to_string(static_cast<int64_t>(i) % out.cols) + ": value " + std::to_string(n.values[i]) +
                  " is not a finite float32");
    }
    out.features[i] = f;
  }
  return out;
}

std::vector<int32_t> read_idx_labels(const std::string& path, const DataLimits& limits) {
  IdxNumbers n = read_idx_numbers(path, limits);
  if (n.dims.size() != 1) throw Error(path + ": IDX labels must have rank 1, not " + std::to_string(n.dims.size()));
  if (n.type == 0x0D || n.type == 0x0E) throw Error(path + ": IDX labels of a float type; integer labels are needed");
  std::vector<int32_t> labels;
  labels.reserve(n.values.size());
  for (std::size_t r = 0; r < n.values.size(); ++r) {
    const double v = n.values[r];
    if (v < 0 || v > kMaxLabel) {
      throw Error(path + ": row " + std::to_string(r) + ": label " + std::to_string(static_cast<int64_t>(v)) +
                  " is out of range (0.." + std::to_string(kMaxLabel) + ")");
    }
    labels.push_back(static_cast<int32_t>(v));
  }
  return labels;
}

}  // namespace graft
