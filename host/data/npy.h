#pragma once
// NumPy's .npy format (numpy.lib.format): the magic "\x93NUMPY", version
// 1.0/2.0/3.0, a little-endian header length (uint16, or uint32 from 2.0),
// then a Python dict literal {'descr': '<f4', 'fortran_order': False,
// 'shape': (N, F), } and the raw array. Parsed here by hand (it is small),
// strictly: every key once, nothing else, sizes checked against the bytes
// present and DataLimits before any allocation. Fuzzed (tools/fuzz/fuzz_npy.cc).
#include <cstdint>
#include <string>
#include <vector>

#include "host/data/raw_data.h"

namespace graft {

struct NpyDtype {
  char kind = 'f';          // 'f' float, 'i' signed, 'u' unsigned, 'b' bool
  int size = 4;             // bytes per element
  bool big_endian = false;
  std::string text;         // as written, "<f4"
};

struct NpyArray {
  NpyDtype dtype;
  std::vector<int64_t> shape;
  bool fortran_order = false;
  std::vector<uint8_t> data;  // elements as stored (dtype byte order, C or Fortran order)
  int64_t elements() const;
};

// Parses a whole .npy image; `origin` names it in errors ("x.npy",
// "data.npz:x_train"). Throws graft::Error for a bad magic, an unsupported
// version, a malformed or unsupported header, and data of a size other than
// the header's.
NpyArray parse_npy(const uint8_t* bytes, std::size_t size, const std::string& origin, const DataLimits& limits = {});
NpyArray read_npy(const std::string& path, const DataLimits& limits = {});

// A [N, F] (or [N] as F = 1, or [N, d1, d2, ...] flattened) numeric array as
// float32 features; natural_scale 1/255 for uint8. Throws naming the row and
// column of a NaN or infinite value.
RawData npy_features(const NpyArray& array, const std::string& origin);
// A [N] integer array as labels in [0, kMaxLabel]; throws for another dtype
// or shape and names the row of a label out of range.
std::vector<int32_t> npy_labels(const NpyArray& array, const std::string& origin);

// A .npy image of a float32 array [rows, cols] (cols = 0: shape [rows]) or of
// int32 labels: what graft predict --out FILE.npy and the tests write.
std::string npy_image_f32(const std::vector<float>& values, int64_t rows, int64_t cols);
std::string npy_image_i32(const std::vector<int32_t>& values);

}  // namespace graft
