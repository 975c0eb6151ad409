#pragma once
// Converting a tensor's stored bytes (possibly unaligned, possibly of the
// other endianness) to float32.
#include <cstdint>

#include "checkpoint/dtype.h"

namespace graft {

float half_to_float(uint16_t h);
float bfloat16_to_float(uint16_t b);

// Converts n elements of type t at src into dst. swap_bytes: the stored
// bytes are big-endian. Throws graft::Error when t does not convert.
void convert_to_float(DType t, const char* src, int64_t n, float* dst, bool swap_bytes);

// Reverses the byte order of each element in place (n elements of size bytes).
void swap_element_bytes(char* data, int64_t n, std::size_t size);

}  // namespace graft
