#include "tools/graft/tensor_values.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/convert.h"

namespace graft::cli {
namespace {

ShownValue float_value(float f) {
  if (std::isnan(f)) return {"nan", nullptr};
  if (std::isinf(f)) return {f > 0 ? "inf" : "-inf", nullptr};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.7g", f);
  // JSON gets the shortest double that reads back as this float.
  char exact[32];
  std::snprintf(exact, sizeof exact, "%.9g", f);
  return {buf, std::strtod(exact, nullptr)};
}

std::string escaped(const std::string& s, std::size_t max_chars) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < max_chars; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  out += '"';
  if (s.size() > max_chars) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

// Integers are shown exactly, not via float: signed ones as int64, unsigned as uint64.
template <typename T>
std::vector<T> load_ints(std::string_view bytes, int64_t n, bool big_endian) {
  std::string copy(bytes);
  if (big_endian) swap_element_bytes(copy.data(), n, sizeof(T));
  std::vector<T> out(static_cast<std::size_t>(n));
  std::memcpy(out.data(), copy.data(), out.size() * sizeof(T));
  return out;
}

struct Source {
  std::size_t count = 0;
  std::function<ShownValue(std::size_t)> show;  // formats element i
  std::vector<double> numbers;                  // for min/max/mean; empty when not numeric
};

template <typename T>
Source int_source(std::vector<T> v) {
  Source s;
  s.count = v.size();
  for (T x : v) s.numbers.push_back(static_cast<double>(x));
  s.show = [v = std::move(v)](std::size_t i) -> ShownValue {
    if constexpr (std::is_signed_v<T>) {
      return {std::to_string(static_cast<int64_t>(v[i])), static_cast<int64_t>(v[i])};
    } else {
      return {std::to_string(static_cast<uint64_t>(v[i])), static_cast<uint64_t>(v[i])};
    }
  };
  return s;
}

Source numeric_source(const BundleReader& r, const BundleEntry& e) {
  const int64_t n = shape_elements(e.info.shape);
  const bool be = r.big_endian();
  switch (e.info.dtype) {
    case DType::kInt8: return int_source(load_ints<int8_t>(r.raw_bytes(e, true), n, be));
    case DType::kUInt8: return int_source(load_ints<uint8_t>(r.raw_bytes(e, true), n, be));
    case DType::kInt16: return int_source(load_ints<int16_t>(r.raw_bytes(e, true), n, be));
    case DType::kUInt16: return int_source(load_ints<uint16_t>(r.raw_bytes(e, true), n, be));
    case DType::kInt32: return int_source(load_ints<int32_t>(r.raw_bytes(e, true), n, be));
    case DType::kUInt32: return int_source(load_ints<uint32_t>(r.raw_bytes(e, true), n, be));
    case DType::kInt64: return int_source(load_ints<int64_t>(r.raw_bytes(e, true), n, be));
    case DType::kUInt64: return int_source(load_ints<uint64_t>(r.raw_bytes(e, true), n, be));
    default: break;
  }
  auto floats = r.read_float(e);
  Source s;
  s.count = floats.size();
  s.numbers.assign(floats.begin(), floats.end());
  s.show = [f = std::move(floats)](std::size_t i) { return float_value(f[i]); };
  return s;
}

}  // namespace

TensorValues describe_values(const BundleReader& reader, const BundleEntry& e, std::size_t edge,
                             std::size_t all_limit) {
  TensorValues tv;
  tv.elements = shape_elements(e.info.shape);
  Source src;
  if (e.info.dtype == DType::kString) {
    auto strings = reader.read_strings(e);
    src.count = strings.size();
    src.show = [v = std::move(strings)](std::size_t i) {
      return ShownValue{escaped(v[i], 80), nlohmann::ordered_json(v[i])};
    };
  } else if (e.info.dtype == DType::kBool) {
    const std::string_view bytes = reader.raw_bytes(e, true);
    src.count = bytes.size();
    src.show = [bytes](std::size_t i) {
      return ShownValue{bytes[i] ? "true" : "false", bytes[i] != 0};
    };
  } else if (dtype_converts_to_float(e.info.dtype)) {
    src = numeric_source(reader, e);
  } else {
    reader.verify(e);
    tv.note = dtype_name(e.info.dtype) + " values are not shown";
    return tv;
  }

  double lo = std::numeric_limits<double>::infinity(), hi = -lo, sum = 0;
  int64_t counted = 0;
  for (double x : src.numbers) {
    if (std::isnan(x)) {
      ++tv.nan_count;
      continue;
    }
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    sum += x;
    ++counted;
  }
  if (counted > 0) {
    tv.min = lo;
    tv.max = hi;
    tv.mean = sum / static_cast<double>(counted);
  }
  const bool all = src.count <= all_limit;
  const std::size_t head = all ? src.count : edge;
  for (std::size_t i = 0; i < head; ++i) tv.head.push_back(src.show(i));
  if (!all) {
    for (std::size_t i = src.count - edge; i < src.count; ++i) tv.tail.push_back(src.show(i));
  }
  return tv;
}

}  // namespace graft::cli
