#pragma once
// Rows as a data file holds them, before any class selection, split or
// scaling: what every reader (npy, npz, CSV, IDX) returns.
#include <cstdint>
#include <string>
#include <vector>

namespace graft {

// The most a data file may make graft allocate; a file (or a header) asking
// for more is refused with both sizes before anything is allocated.
struct DataLimits {
  int64_t max_bytes = int64_t{8} << 30;  // 8 GiB
};

// Labels are original labels: the file's integers, or for class names (CSV)
// the index of the name in class_names.
inline constexpr int64_t kMaxLabel = 65535;

struct RawData {
  std::string origin;           // file (and array) the rows came from, for messages
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> features;  // [rows, cols] row-major, raw values
  std::vector<int32_t> labels;  // [rows] original labels; empty when the file has none
  // How raw values become inputs unless the model says otherwise: 1/255 for
  // unsigned-byte pixels (as the IDX loader and Keras' x / 255 do), else 1.
  double natural_scale = 1.0;
  std::vector<std::string> class_names;  // CSV string labels: label i is class_names[i]
  std::vector<std::string> column_names; // CSV: the feature columns' names
  std::string label_column;              // CSV: the label column's name
};

// "1.5 GiB" / "12 MiB" / "640 bytes" for messages.
std::string byte_size_text(int64_t bytes);

// Throws graft::Error naming `origin` unless bytes <= limits.max_bytes.
void check_data_size(int64_t bytes, const DataLimits& limits, const std::string& origin, const std::string& what);

}  // namespace graft
