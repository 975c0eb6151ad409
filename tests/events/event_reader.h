#pragma once
// An independent reader for TensorBoard event files, written for the tests
// (not the writer's code): TFRecord framing (uint64 length, masked CRC32C of
// the length, data, masked CRC32C of the data) with a bitwise CRC32C, and the
// Event / Summary protos decoded from the wire format by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace graft::test {

inline uint32_t crc32c_bitwise(const std::string& s) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char c : s) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
  }
  return crc ^ 0xffffffffu;
}
inline uint32_t masked(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

inline uint64_t le(const std::string& s, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t(static_cast<unsigned char>(s[pos + i])) << (8 * i);
  return v;
}

// A decoded Event: the fields graft writes.
struct Event {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;
  std::map<std::string, float> scalars;
};

inline uint64_t varint(const std::string& s, size_t& pos) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    const unsigned char b = s.at(pos++);
    v |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  throw std::runtime_error("varint too long");
}

// Calls fn(field, wire_type, payload_or_value) for each field of a message.
template <typename Fn>
void fields(const std::string& msg, Fn fn) {
  size_t pos = 0;
  while (pos < msg.size()) {
    const uint64_t key = varint(msg, pos);
    const int field = int(key >> 3), wt = int(key & 7);
    if (wt == 0) {
      fn(field, wt, std::string(), varint(msg, pos));
    } else if (wt == 1) {
      fn(field, wt, msg.substr(pos, 8), 0);
      pos += 8;
    } else if (wt == 5) {
      fn(field, wt, msg.substr(pos, 4), 0);
      pos += 4;
    } else if (wt == 2) {
      const uint64_t n = varint(msg, pos);
      fn(field, wt, msg.substr(pos, n), 0);
      pos += n;
    } else {
      throw std::runtime_error("unexpected wire type");
    }
  }
}

inline Event decode_event(const std::string& data) {
  Event e;
  fields(data, [&](int f, int wt, const std::string& bytes, uint64_t v) {
    if (f == 1 && wt == 1) std::memcpy(&e.wall_time, bytes.data(), 8);
    if (f == 2 && wt == 0) e.step = int64_t(v);
    if (f == 3 && wt == 2) e.file_version = bytes;
    if (f == 5 && wt == 2) {
      fields(bytes, [&](int sf, int, const std::string& value_msg, uint64_t) {
        if (sf != 1) return;
        std::string tag;
        float simple = NAN;
        fields(value_msg, [&](int vf, int vwt, const std::string& b, uint64_t) {
          if (vf == 1 && vwt == 2) tag = b;
          if (vf == 2 && vwt == 5) std::memcpy(&simple, b.data(), 4);
        });
        e.scalars[tag] = simple;
      });
    }
  });
  return e;
}

inline std::vector<Event> read_event_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<Event> events;
  size_t pos = 0;
  while (pos < s.size()) {
    EXPECT_GE(s.size() - pos, 12u) << "truncated record header";
    const uint64_t len = le(s, pos, 8);
    EXPECT_EQ(le(s, pos + 8, 4), masked(crc32c_bitwise(s.substr(pos, 8)))) << "length crc";
    const std::string data = s.substr(pos + 12, len);
    EXPECT_EQ(le(s, pos + 12 + len, 4), masked(crc32c_bitwise(data))) << "data crc";
    events.push_back(decode_event(data));
    pos += 12 + len + 4;
  }
  EXPECT_EQ(pos, s.size());
  return events;
}

// The event files (events.out.tfevents.*) directly inside `dir`, sorted.
inline std::vector<std::filesystem::path> event_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  if (!std::filesystem::is_directory(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace graft::test
