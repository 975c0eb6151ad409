#include "checkpoint/convert.h"

#include <algorithm>
#include <cstring>

#include "checkpoint/error.h"

namespace graft {
namespace {

template <typename T>
T load(const char* p, bool swap_bytes) {
  T v;
  if (!swap_bytes) {
    std::memcpy(&v, p, sizeof(T));
    return v;
  }
  char tmp[sizeof(T)];
  std::reverse_copy(p, p + sizeof(T), tmp);
  std::memcpy(&v, tmp, sizeof(T));
  return v;
}

template <typename T>
void convert_plain(const char* src, int64_t n, float* dst, bool swap_bytes) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(load<T>(src + i * sizeof(T), swap_bytes));
}

}  // namespace

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);  // inf / nan
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;  // ±0
  } else {
    // Subnormal half: normalise the mantissa.
    exp = 113;
    while (!(mant & 0x400u)) {
      mant <<= 1;
      --exp;
    }
    bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bfloat16_to_float(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

void convert_to_float(DType t, const char* src, int64_t n, float* dst, bool swap_bytes) {
  if (n == 0 && dtype_converts_to_float(t)) return;  // dst may be null
  switch (t) {
    case DType::kFloat:
      if (!swap_bytes) {
        std::memcpy(dst, src, static_cast<std::size_t>(n) * 4);
      } else {
        convert_plain<float>(src, n, dst, true);
      }
      return;
    case DType::kDouble: return convert_plain<double>(src, n, dst, swap_bytes);
    case DType::kInt8: return convert_plain<int8_t>(src, n, dst, false);
    case DType::kUInt8: return convert_plain<uint8_t>(src, n, dst, false);
    case DType::kInt16: return convert_plain<int16_t>(src, n, dst, swap_bytes);
    case DType::kUInt16: return convert_plain<uint16_t>(src, n, dst, swap_bytes);
    case DType::kInt32: return convert_plain<int32_t>(src, n, dst, swap_bytes);
    case DType::kUInt32: return convert_plain<uint32_t>(src, n, dst, swap_bytes);
    case DType::kInt64: return convert_plain<int64_t>(src, n, dst, swap_bytes);
    case DType::kUInt64: return convert_plain<uint64_t>(src, n, dst, swap_bytes);
    case DType::kHalf:
      for (int64_t i = 0; i < n; ++i) dst[i] = half_to_float(load<uint16_t>(src + 2 * i, swap_bytes));
      return;
    case DType::kBFloat16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bfloat16_to_float(load<uint16_t>(src + 2 * i, swap_bytes));
      return;
    default:
      throw Error("cannot convert " + dtype_name(t) + " to float32");
  }
}

void swap_element_bytes(char* data, int64_t n, std::size_t size) {
  if (size <= 1) return;
  for (int64_t i = 0; i < n; ++i) std::reverse(data + i * size, data + (i + 1) * size);
}

}  // namespace graft
