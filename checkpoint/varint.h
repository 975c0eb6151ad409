#pragma once
// Protocol-buffer / LevelDB base-128 varints: the length prefixes of string
// tensors, SSTable block handles and entry headers. One codec for the
// reader, the writer, the fuzz harness and the corrupt-input tests.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace graft {

inline void put_varint64(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Decodes the varint at bytes[pos] and advances pos past it; false when it
// is truncated or longer than 10 bytes (then v and pos are unspecified).
inline bool get_varint64(std::string_view bytes, std::size_t& pos, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift <= 63 && pos < bytes.size(); shift += 7) {
    const auto b = static_cast<unsigned char>(bytes[pos++]);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

}  // namespace graft
