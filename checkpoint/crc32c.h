#pragma once
// CRC-32C (Castagnoli), as TensorFlow and LevelDB use it: SSE4.2 instructions
// when the CPU has them (checked at run time), else a portable table.
#include <cstddef>
#include <cstdint>

namespace graft::crc32c {

// The crc of data[0..n) appended to data whose crc was `crc` (0 for none):
// extend(extend(0, a), b) == value(a ‖ b).
uint32_t extend(uint32_t crc, const void* data, std::size_t n);
inline uint32_t value(const void* data, std::size_t n) { return extend(0, data, n); }

// The two implementations, for tests and benchmarks. extend_hardware may only
// be called when hardware_available().
uint32_t extend_portable(uint32_t crc, const void* data, std::size_t n);
uint32_t extend_hardware(uint32_t crc, const void* data, std::size_t n);
bool hardware_available();

// TF stores crcs "masked" so that a crc over data containing crcs stays
// well distributed: rotate right by 15, add a constant.
constexpr uint32_t kMaskDelta = 0xa282ead8u;
inline uint32_t mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }
inline uint32_t unmask(uint32_t masked) {
  const uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace graft::crc32c
