#include "checkpoint/tensor_info.h"

#include "checkpoint/error.h"

namespace graft {

int64_t shape_elements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error("negative dimension " + std::to_string(d) + " in shape " + shape_string(shape));
    if (__builtin_mul_overflow(n, d, &n)) {
      throw Error("shape " + shape_string(shape) + " has more than 2^63 elements");
    }
  }
  return n;
}

std::string shape_string(const Shape& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace graft
