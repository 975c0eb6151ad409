#pragma once
// The one description of a tensor shared by checkpoint/ and host/: a name,
// a dtype and a shape. Bytes live elsewhere (a mapped data shard, a host
// buffer, device memory).
#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/dtype.h"

namespace graft {

using Shape = std::vector<int64_t>;

// Number of elements; throws graft::Error on a negative dim or on overflow.
int64_t shape_elements(const Shape& shape);
// "[784, 300]", "[]" for a scalar.
std::string shape_string(const Shape& shape);

struct TensorInfo {
  std::string name;
  DType dtype = DType::kFloat;
  Shape shape;
};

}  // namespace graft
