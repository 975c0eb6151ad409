#pragma once
// The IDX format of MNIST and Fashion-MNIST (big-endian header: two zero
// bytes, a type byte, a rank byte, then one uint32 per dimension), raw or
// gzip-compressed (detected from the content, not the name).
#include <cstdint>
#include <string>
#include <vector>

#include "host/data/raw_data.h"

namespace graft {

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;  // row-major, dims' product bytes
};

// Reads an IDX file of unsigned bytes (type 0x08) of the given rank. Throws
// graft::Error naming the file for a bad magic, a wrong rank or type, absurd
// dimensions (refused before anything is allocated) and data shorter than
// the header says.
IdxArray read_idx_u8(const std::string& path, int expected_rank);

// Any IDX file of numbers: unsigned/signed byte (0x08/0x09), int16 (0x0B),
// int32 (0x0C), float32 (0x0D) or float64 (0x0E), of any rank >= 1, as
// float32 rows [dims[0], product of the other dims] (images need not be
// square). natural_scale is 1/255 for unsigned bytes, else 1. Throws
// graft::Error naming the file for everything read_idx_u8 refuses, a size
// over limits, and a value that is not a finite float32 (naming its row).
RawData read_idx_features(const std::string& path, const DataLimits& limits = {});
// A rank-1 IDX file of integers as labels in [0, kMaxLabel].
std::vector<int32_t> read_idx_labels(const std::string& path, const DataLimits& limits = {});

}  // namespace graft
