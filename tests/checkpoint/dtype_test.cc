#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "checkpoint/convert.h"
#include "checkpoint/dtype.h"
#include "checkpoint/error.h"
#include "checkpoint/tensor_info.h"

namespace graft {
namespace {

TEST(DType, SizesAndNames) {
  EXPECT_EQ(dtype_size(DType::kFloat), 4u);
  EXPECT_EQ(dtype_size(DType::kInt64), 8u);
  EXPECT_EQ(dtype_size(DType::kHalf), 2u);
  EXPECT_EQ(dtype_size(DType::kComplex128), 16u);
  EXPECT_EQ(dtype_size(DType::kString), 0u);
  EXPECT_EQ(dtype_name(DType::kFloat), "float32");
  EXPECT_EQ(dtype_name(DType::kInt64), "int64");
  EXPECT_EQ(dtype_name(DType::kString), "string");
  EXPECT_EQ(dtype_name(static_cast<DType>(77)), "dtype(77)");
  EXPECT_EQ(dtype_from_name("bfloat16"), DType::kBFloat16);
  EXPECT_EQ(dtype_from_name("float"), std::nullopt);
  EXPECT_EQ(dtype_from_name("invalid"), std::nullopt);
}

TEST(DType, KnownValues) {
  for (int v : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 17, 18, 19, 22, 23}) EXPECT_TRUE(dtype_is_known(v)) << v;
  for (int v : {0, 11, 12, 13, 15, 16, 20, 21, 24, 101, -1}) EXPECT_FALSE(dtype_is_known(v)) << v;
  EXPECT_TRUE(dtype_converts_to_float(DType::kBFloat16));
  EXPECT_FALSE(dtype_converts_to_float(DType::kString));
  EXPECT_FALSE(dtype_converts_to_float(DType::kBool));
  EXPECT_FALSE(dtype_converts_to_float(DType::kComplex64));
}

TEST(Shape, ElementsAndString) {
  EXPECT_EQ(shape_elements({}), 1);
  EXPECT_EQ(shape_elements({784, 300}), 235200);
  EXPECT_EQ(shape_elements({0, 5}), 0);
  EXPECT_EQ(shape_string({}), "[]");
  EXPECT_EQ(shape_string({784, 300}), "[784, 300]");
}

TEST(Shape, RejectsNegativeAndOverflow) {
  EXPECT_THROW(shape_elements({3, -1}), Error);
  EXPECT_THROW(shape_elements({int64_t{1} << 32, int64_t{1} << 32}), Error);
  EXPECT_THROW(shape_elements({std::numeric_limits<int64_t>::max(), 2}), Error);
  EXPECT_EQ(shape_elements({int64_t{1} << 31, int64_t{1} << 31}), int64_t{1} << 62);
}

TEST(Convert, HalfAndBfloat16) {
  EXPECT_EQ(half_to_float(0x3c00), 1.0f);
  EXPECT_EQ(half_to_float(0xc000), -2.0f);
  EXPECT_EQ(half_to_float(0x7bff), 65504.0f);
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(half_to_float(0x0200), std::ldexp(1.0f, -15));
  EXPECT_TRUE(std::isinf(half_to_float(0x7c00)));
  EXPECT_TRUE(std::isnan(half_to_float(0x7e00)));
  EXPECT_EQ(bfloat16_to_float(0x3f80), 1.0f);
  EXPECT_EQ(bfloat16_to_float(0xc0a0), -5.0f);
}

TEST(Convert, IntegerDoubleAndSwapped) {
  const int64_t ints[2] = {-7, 1 << 20};
  float out[2];
  convert_to_float(DType::kInt64, reinterpret_cast<const char*>(ints), 2, out, false);
  EXPECT_EQ(out[0], -7.0f);
  EXPECT_EQ(out[1], 1048576.0f);
  const unsigned char be_one[4] = {0x3f, 0x80, 0x00, 0x00};  // 1.0f big-endian
  convert_to_float(DType::kFloat, reinterpret_cast<const char*>(be_one), 1, out, true);
  EXPECT_EQ(out[0], 1.0f);
  const double d = 0.25;
  convert_to_float(DType::kDouble, reinterpret_cast<const char*>(&d), 1, out, false);
  EXPECT_EQ(out[0], 0.25f);
  EXPECT_THROW(convert_to_float(DType::kString, "", 0, out, false), Error);
}

}  // namespace
}  // namespace graft
