#include "checkpoint/crc32c.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace graft::crc32c {
namespace {

using Fn = uint32_t (*)(uint32_t, const void*, std::size_t);

struct Impl {
  const char* name;
  Fn fn;
};

std::vector<Impl> implementations() {
  std::vector<Impl> v{{"portable", extend_portable}};
  if (hardware_available()) v.push_back({"hardware", extend_hardware});
  return v;
}

TEST(Crc32c, StandardVectorsOnEveryPath) {
  std::string zeros(32, '\0'), ones(32, '\xff'), ascending(32, '\0');
  for (int i = 0; i < 32; ++i) ascending[i] = static_cast<char>(i);
  for (const auto& impl : implementations()) {
    SCOPED_TRACE(impl.name);
    EXPECT_EQ(impl.fn(0, "123456789", 9), 0xE3069283u);
    EXPECT_EQ(impl.fn(0, zeros.data(), 32), 0x8A9136AAu);
    EXPECT_EQ(impl.fn(0, ones.data(), 32), 0x62A8AB43u);
    EXPECT_EQ(impl.fn(0, ascending.data(), 32), 0x46DD794Eu);
    EXPECT_EQ(impl.fn(0, "", 0), 0u);
  }
}

TEST(Crc32c, HardwarePathIsUsedWhenAvailable) {
#if defined(__x86_64__)
  EXPECT_EQ(hardware_available(), static_cast<bool>(__builtin_cpu_supports("sse4.2")));
#endif
  if (!hardware_available()) GTEST_SKIP() << "CPU has no SSE4.2; only the portable path runs";
}

TEST(Crc32c, PathsAgreeOnRandomUnalignedData) {
  if (!hardware_available()) GTEST_SKIP() << "CPU has no SSE4.2";
  std::mt19937 rng(7);
  std::vector<unsigned char> buf(4096 + 16);
  for (auto& b : buf) b = static_cast<unsigned char>(rng());
  for (std::size_t start = 0; start < 9; ++start) {
    for (std::size_t n : {0u, 1u, 3u, 7u, 8u, 9u, 15u, 16u, 31u, 100u, 1000u, 4096u}) {
      ASSERT_EQ(extend_portable(0x1234u, buf.data() + start, n),
                extend_hardware(0x1234u, buf.data() + start, n))
          << "start " << start << " n " << n;
    }
  }
}

TEST(Crc32c, ExtendEqualsValueOfConcatenation) {
  const std::string a = "hello, ", b = "world";
  const std::string ab = a + b;
  for (const auto& impl : implementations()) {
    EXPECT_EQ(impl.fn(impl.fn(0, a.data(), a.size()), b.data(), b.size()), impl.fn(0, ab.data(), ab.size()))
        << impl.name;
  }
  EXPECT_NE(value("a", 1), value("b", 1));
}

TEST(Crc32c, MaskAndUnmask) {
  EXPECT_EQ(mask(0), 0xa282ead8u);  // spec §7: why field 6 is always present
  for (uint32_t v : {0u, 1u, 0xE3069283u, 0xffffffffu, 0x80000000u}) {
    EXPECT_EQ(unmask(mask(v)), v);
    EXPECT_NE(mask(v), v);
  }
  // Spec §9: the TF2 fixture's stored length crc is mask(crc32c(u32le 3602)).
  const uint32_t len = 3602;
  unsigned char le[4];
  std::memcpy(le, &len, 4);
  EXPECT_EQ(mask(value(le, 4)), 0xc5d6d9e0u);
}

}  // namespace
}  // namespace graft::crc32c
