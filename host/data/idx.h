#pragma once
// The IDX format of MNIST and Fashion-MNIST (big-endian header: two zero
// bytes, a type byte, a rank byte, then one uint32 per dimension), raw or
// gzip-compressed (detected from the content, not the name).
#include <cstdint>
#include <string>
#include <vector>

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

}  // namespace graft
