// Reads graft's TensorBoard event files back with an independent TFRecord and
// protobuf-wire reader written here (bitwise CRC32C, hand-decoded varints),
// not with the writer's code.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "checkpoint/event_writer.h"
#include "tests/common/fixtures.h"

namespace {

uint32_t crc32c_bitwise(const std::string& s) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char c : s) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
  }
  return crc ^ 0xffffffffu;
}
uint32_t masked(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

uint64_t le(const std::string& s, size_t pos, int bytes) {
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

uint64_t varint(const std::string& s, size_t& pos) {
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

Event decode_event(const std::string& data) {
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

std::vector<Event> read_event_file(const std::filesystem::path& path) {
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

TEST(EventFile, FramingCrcsAndScalarValues) {
  graft::test::TempDir dir;
  std::string path;
  {
    graft::EventWriter writer((dir / "run").string());
    path = writer.path();
    writer.scalars(1, {{"loss", 0.5f}, {"accuracy/test", 0.0f}});
    writer.scalar(2, "loss", 0.25f);
  }
  const auto name = std::filesystem::path(path).filename().string();
  EXPECT_EQ(name.rfind("events.out.tfevents.", 0), 0u) << name;
  // 10-digit unix seconds after the prefix.
  EXPECT_EQ(name.substr(20, 10).find_first_not_of("0123456789"), std::string::npos) << name;

  const auto events = read_event_file(path);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].file_version, "brain.Event:2");
  EXPECT_GT(events[0].wall_time, 1.6e9);
  EXPECT_EQ(events[1].step, 1);
  ASSERT_EQ(events[1].scalars.count("loss"), 1u);
  EXPECT_FLOAT_EQ(events[1].scalars.at("loss"), 0.5f);
  // A zero value must still be written (proto3 would drop a plain float 0).
  ASSERT_EQ(events[1].scalars.count("accuracy/test"), 1u);
  EXPECT_FLOAT_EQ(events[1].scalars.at("accuracy/test"), 0.0f);
  EXPECT_EQ(events[2].step, 2);
  EXPECT_FLOAT_EQ(events[2].scalars.at("loss"), 0.25f);
}

TEST(EventFile, UnwritableLogdirIsAClearError) {
  graft::test::TempDir dir;
  std::ofstream(dir / "file") << "x";
  try {
    graft::EventWriter writer((dir / "file" / "sub").string());
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("file"), std::string::npos) << e.what();
  }
}

}  // namespace
