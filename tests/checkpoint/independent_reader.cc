#include "tests/checkpoint/independent_reader.h"

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace graft::test {
namespace {

struct Cursor {
  const std::string& s;
  std::size_t pos;
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      if (pos >= s.size() || shift > 63) throw std::runtime_error("bad varint");
      const auto b = static_cast<unsigned char>(s[pos++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  }
  std::string bytes(std::size_t n) {
    if (n > s.size() - pos) throw std::runtime_error("truncated");
    std::string out = s.substr(pos, n);
    pos += n;
    return out;
  }
  uint32_t fixed32() {
    const std::string b = bytes(4);
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[i]);
    return v;
  }
  bool done() const { return pos >= s.size(); }
};

std::vector<std::pair<std::string, std::string>> parse_block(const std::string& block) {
  if (block.size() < 4) throw std::runtime_error("block too small");
  Cursor tail{block, block.size() - 4};
  const uint32_t restarts = tail.fixed32();
  const std::size_t end = block.size() - 4 - 4 * static_cast<std::size_t>(restarts);
  std::vector<std::pair<std::string, std::string>> out;
  const std::string body = block.substr(0, end);
  Cursor c{body, 0};
  std::string key;
  while (!c.done()) {
    const uint64_t shared = c.varint(), non_shared = c.varint(), value_len = c.varint();
    key = key.substr(0, shared) + c.bytes(non_shared);
    out.emplace_back(key, c.bytes(value_len));
  }
  return out;
}

RawEntry parse_entry(const std::string& key, const std::string& value) {
  RawEntry e;
  e.key = key;
  e.value = value;
  Cursor c{value, 0};
  while (!c.done()) {
    const uint64_t tag = c.varint();
    switch (tag) {
      case 0x08: e.dtype = static_cast<int>(c.varint()); break;
      case 0x12: {
        const std::string shape = c.bytes(c.varint());
        Cursor sc{shape, 0};
        while (!sc.done()) {
          if (sc.varint() != 0x12) throw std::runtime_error("unexpected shape field");
          const std::string dim = sc.bytes(sc.varint());
          Cursor dc{dim, 0};
          int64_t size = 0;
          while (!dc.done()) {
            const uint64_t dtag = dc.varint();
            if (dtag == 0x08) {
              size = static_cast<int64_t>(dc.varint());
            } else if (dtag == 0x12) {
              dc.bytes(dc.varint());  // dim name
            } else {
              throw std::runtime_error("unexpected dim field");
            }
          }
          e.shape.push_back(size);
        }
        break;
      }
      case 0x18: e.shard = static_cast<int>(c.varint()); break;
      case 0x20: e.offset = static_cast<int64_t>(c.varint()); break;
      case 0x28: e.size = static_cast<int64_t>(c.varint()); break;
      case 0x35: e.crc = c.fixed32(); break;
      case 0x3a: c.bytes(c.varint()); e.has_slices = true; break;
      default: throw std::runtime_error("unexpected entry field tag " + std::to_string(tag));
    }
  }
  return e;
}

}  // namespace

RawIndex read_index_independently(const std::string& index_path) {
  std::ifstream in(index_path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + index_path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string file = ss.str();
  if (file.size() < 48) throw std::runtime_error("too short");
  const std::string footer = file.substr(file.size() - 48);
  static const unsigned char kMagic[8] = {0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb};
  if (std::memcmp(footer.data() + 40, kMagic, 8) != 0) throw std::runtime_error("bad magic");
  Cursor fc{footer, 0};
  fc.varint();  // metaindex offset
  fc.varint();  // metaindex size
  const uint64_t index_offset = fc.varint(), index_size = fc.varint();

  RawIndex out;
  for (const auto& [key, handle] : parse_block(file.substr(index_offset, index_size))) {
    Cursor hc{handle, 0};
    RawBlockHandle h{hc.varint(), hc.varint()};
    if (h.offset + h.size >= file.size()) throw std::runtime_error("block outside the file");
    if (file[h.offset + h.size] != 0) throw std::runtime_error("compressed block");
    out.data_blocks.push_back(h);
    out.index_keys.push_back(key);
    out.block_keys.emplace_back();
    for (const auto& [k, v] : parse_block(file.substr(h.offset, h.size))) {
      out.block_keys.back().push_back(k);
      if (k.empty()) {
        out.header = v;
      } else {
        out.entries.push_back(parse_entry(k, v));
      }
    }
  }
  return out;
}

}  // namespace graft::test
