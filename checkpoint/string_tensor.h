#pragma once
// DT_STRING tensors in a data file (format spec §9): varint lengths, a masked
// crc of the lengths, then the bytes; checksummed by one running crc32c over
// the lengths (as uint32 LE), the stored length crc, and the bytes.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace graft::string_tensor {

struct Encoded {
  std::string bytes;
  uint32_t masked_crc32c = 0;  // the BundleEntryProto.crc32c value
};

Encoded encode(const std::vector<std::string>& values);

// Decodes `elements` strings from `bytes`. When verify is true, checks the
// length crc and compares the composite crc with `masked_crc32c`. Throws
// graft::Error (with a message lacking file/tensor context) on bad data.
std::vector<std::string> decode(std::string_view bytes, int64_t elements, bool verify,
                                uint32_t masked_crc32c);

// The composite crc of an encoded region (masked), as TF's reader computes it.
uint32_t masked_checksum(std::string_view bytes, int64_t elements);

}  // namespace graft::string_tensor
