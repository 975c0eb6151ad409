#pragma once
// TensorFlow's DataType enum (framework/types.proto), restricted to what a
// checkpoint can hold, with element sizes and the spellings graft prints.
#include <cstdint>
#include <optional>
#include <string>

namespace graft {

enum class DType : int {
  kInvalid = 0,
  kFloat = 1,
  kDouble = 2,
  kInt32 = 3,
  kUInt8 = 4,
  kInt16 = 5,
  kInt8 = 6,
  kString = 7,
  kComplex64 = 8,
  kInt64 = 9,
  kBool = 10,
  kBFloat16 = 14,
  kUInt16 = 17,
  kComplex128 = 18,
  kHalf = 19,
  kUInt32 = 22,
  kUInt64 = 23,
};

// Bytes per element in a data file; 0 for variable-size (string) or unknown.
std::size_t dtype_size(DType t);
// "float32", "int64", "string", ...; "dtype(N)" for numbers graft does not know.
std::string dtype_name(DType t);
// Inverse of dtype_name; nullopt for an unknown spelling.
std::optional<DType> dtype_from_name(const std::string& name);
// True for the enum values listed above (others are rejected when reading).
bool dtype_is_known(int value);
// True when the values can be converted to float32 for training.
bool dtype_converts_to_float(DType t);

}  // namespace graft
