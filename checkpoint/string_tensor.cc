#include "checkpoint/string_tensor.h"

#include <cstring>

#include "checkpoint/crc32c.h"
#include "checkpoint/error.h"
#include "checkpoint/varint.h"

namespace graft::string_tensor {
namespace {

// TF checksums each length as 4 LE bytes, or 8 when it does not fit.
uint32_t extend_length(uint32_t crc, uint64_t len) {
  unsigned char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<unsigned char>(len >> (8 * i));
  return crc32c::extend(crc, buf, len <= 0xffffffffu ? 4 : 8);
}

struct Layout {
  std::vector<uint64_t> lengths;
  uint32_t stored_length_crc = 0;  // masked, as stored
  uint32_t length_crc = 0;         // computed, unmasked
  std::size_t data_start = 0;
};

Layout parse_layout(std::string_view bytes, int64_t elements) {
  if (elements < 0 || static_cast<uint64_t>(elements) > bytes.size()) {
    throw Error("string tensor of " + std::to_string(elements) + " elements cannot fit in " +
                std::to_string(bytes.size()) + " bytes");
  }
  Layout layout;
  layout.lengths.reserve(static_cast<std::size_t>(elements));
  std::size_t pos = 0;
  uint64_t total = 0;
  for (int64_t i = 0; i < elements; ++i) {
    uint64_t len;
    if (!get_varint64(bytes, pos, len)) throw Error("string tensor lengths are truncated");
    if (len > bytes.size() || (total += len) > bytes.size()) {
      throw Error("string tensor lengths exceed the tensor's size");
    }
    layout.lengths.push_back(len);
    layout.length_crc = extend_length(layout.length_crc, len);
  }
  if (bytes.size() - pos < 4) throw Error("string tensor length checksum is truncated");
  std::memcpy(&layout.stored_length_crc, bytes.data() + pos, 4);
  layout.data_start = pos + 4;
  if (total > bytes.size() - layout.data_start) throw Error("string tensor data is truncated");
  return layout;
}

uint32_t composite_crc(std::string_view bytes, const Layout& layout) {
  uint32_t crc = crc32c::extend(layout.length_crc, bytes.data() + layout.data_start - 4, 4);
  uint64_t total = 0;
  for (uint64_t len : layout.lengths) total += len;
  return crc32c::extend(crc, bytes.data() + layout.data_start, total);
}

}  // namespace

Encoded encode(const std::vector<std::string>& values) {
  Encoded e;
  uint32_t crc = 0;
  std::size_t total = 0;
  for (const auto& v : values) {
    put_varint64(e.bytes, v.size());
    crc = extend_length(crc, v.size());
    total += v.size();
  }
  const uint32_t length_crc = crc32c::mask(crc);
  char raw[4];
  std::memcpy(raw, &length_crc, 4);
  e.bytes.append(raw, 4);
  crc = crc32c::extend(crc, raw, 4);
  e.bytes.reserve(e.bytes.size() + total);
  for (const auto& v : values) {
    e.bytes += v;
    crc = crc32c::extend(crc, v.data(), v.size());
  }
  e.masked_crc32c = crc32c::mask(crc);
  return e;
}

std::vector<std::string> decode(std::string_view bytes, int64_t elements, bool verify,
                                uint32_t masked_crc32c) {
  const Layout layout = parse_layout(bytes, elements);
  if (verify) {
    if (crc32c::unmask(layout.stored_length_crc) != layout.length_crc) {
      throw Error("string tensor length checksum mismatch");
    }
    if (composite_crc(bytes, layout) != crc32c::unmask(masked_crc32c)) {
      throw Error("checksum mismatch (data is corrupt)");
    }
  }
  std::vector<std::string> out;
  out.reserve(layout.lengths.size());
  std::size_t pos = layout.data_start;
  for (uint64_t len : layout.lengths) {
    out.emplace_back(bytes.substr(pos, len));
    pos += len;
  }
  return out;
}

uint32_t masked_checksum(std::string_view bytes, int64_t elements) {
  return crc32c::mask(composite_crc(bytes, parse_layout(bytes, elements)));
}

}  // namespace graft::string_tensor

