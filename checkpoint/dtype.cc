#include "checkpoint/dtype.h"

#include <array>

namespace graft {
namespace {

struct DTypeRow {
  DType type;
  std::size_t size;
  const char* name;
};

constexpr std::array<DTypeRow, 17> kRows{{
    {DType::kFloat, 4, "float32"},     {DType::kDouble, 8, "float64"},
    {DType::kInt32, 4, "int32"},       {DType::kUInt8, 1, "uint8"},
    {DType::kInt16, 2, "int16"},       {DType::kInt8, 1, "int8"},
    {DType::kString, 0, "string"},     {DType::kComplex64, 8, "complex64"},
    {DType::kInt64, 8, "int64"},       {DType::kBool, 1, "bool"},
    {DType::kBFloat16, 2, "bfloat16"}, {DType::kUInt16, 2, "uint16"},
    {DType::kComplex128, 16, "complex128"}, {DType::kHalf, 2, "float16"},
    {DType::kUInt32, 4, "uint32"},     {DType::kUInt64, 8, "uint64"},
    {DType::kInvalid, 0, "invalid"},
}};

const DTypeRow* find_row(DType t) {
  for (const auto& row : kRows) {
    if (row.type == t) return &row;
  }
  return nullptr;
}

}  // namespace

std::size_t dtype_size(DType t) {
  const DTypeRow* row = find_row(t);
  return row ? row->size : 0;
}

std::string dtype_name(DType t) {
  const DTypeRow* row = find_row(t);
  return row ? row->name : "dtype(" + std::to_string(static_cast<int>(t)) + ")";
}

std::optional<DType> dtype_from_name(const std::string& name) {
  for (const auto& row : kRows) {
    if (row.type != DType::kInvalid && name == row.name) return row.type;
  }
  return std::nullopt;
}

bool dtype_is_known(int value) {
  const DTypeRow* row = find_row(static_cast<DType>(value));
  return row != nullptr && row->type != DType::kInvalid;
}

bool dtype_converts_to_float(DType t) {
  switch (t) {
    case DType::kFloat:
    case DType::kDouble:
    case DType::kHalf:
    case DType::kBFloat16:
    case DType::kInt8:
    case DType::kInt16:
    case DType::kInt32:
    case DType::kInt64:
    case DType::kUInt8:
    case DType::kUInt16:
    case DType::kUInt32:
    case DType::kUInt64:
      return true;
    default:
      return false;
  }
}

}  // namespace graft
