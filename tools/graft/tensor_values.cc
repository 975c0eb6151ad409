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

// One element of a numeric tensor: its value for the statistics and, when
// it is shown, its text. Integers are shown exactly, not via float: signed
// ones as int64, unsigned as uint64.
template <typename T>
ShownValue int_value(T v) {
  if constexpr (std::is_signed_v<T>) {
    return {std::to_string(static_cast<int64_t>(v)), static_cast<int64_t>(v)};
  } else {
    return {std::to_string(static_cast<uint64_t>(v)), static_cast<uint64_t>(v)};
  }
}

// Walks a numeric tensor in chunks straight from the mapped data file (its
// checksum verified first): a 4 GiB tensor is summarised without a copy of
// it, let alone the float and double copies this once made. Statistics are
// accumulated in element order, as before.
void stream_numbers(const BundleReader& r, const BundleEntry& e, std::size_t edge, std::size_t all_limit,
                    TensorValues& tv) {
  r.verify(e);
  const std::string_view bytes = r.raw_bytes(e, false);
  const auto n = static_cast<std::size_t>(tv.elements);
  const bool all = n <= all_limit;
  const std::size_t head = all ? n : edge, tail_from = all ? n : n - edge;
  const bool be = r.big_endian();
  const std::size_t size = dtype_size(e.info.dtype);
  double lo = std::numeric_limits<double>::infinity(), hi = -lo, sum = 0;
  int64_t counted = 0;
  auto take = [&](std::size_t i, double x, const auto& show) {
    if (i < head) tv.head.push_back(show());
    if (i >= tail_from) tv.tail.push_back(show());
    if (std::isnan(x)) {
      ++tv.nan_count;
      return;
    }
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    sum += x;
    ++counted;
  };
  constexpr std::size_t kChunk = 1 << 16;
  std::vector<float> floats(std::min(n, kChunk));
  std::string chunk;
  for (std::size_t at = 0; at < n; at += kChunk) {
    const std::size_t m = std::min(kChunk, n - at);
    chunk.assign(bytes.data() + at * size, m * size);
    auto ints = [&](auto zero) {
      using T = decltype(zero);
      if (be) swap_element_bytes(chunk.data(), static_cast<int64_t>(m), sizeof(T));
      for (std::size_t j = 0; j < m; ++j) {
        T v;
        std::memcpy(&v, chunk.data() + j * sizeof(T), sizeof(T));
        take(at + j, static_cast<double>(v), [&] { return int_value(v); });
      }
    };
    switch (e.info.dtype) {
      case DType::kInt8: ints(int8_t{}); break;
      case DType::kUInt8: ints(uint8_t{}); break;
      case DType::kInt16: ints(int16_t{}); break;
      case DType::kUInt16: ints(uint16_t{}); break;
      case DType::kInt32: ints(int32_t{}); break;
      case DType::kUInt32: ints(uint32_t{}); break;
      case DType::kInt64: ints(int64_t{}); break;
      case DType::kUInt64: ints(uint64_t{}); break;
      default:
        convert_to_float(e.info.dtype, chunk.data(), static_cast<int64_t>(m), floats.data(), be);
        for (std::size_t j = 0; j < m; ++j) take(at + j, floats[j], [&] { return float_value(floats[j]); });
    }
  }
  if (counted > 0) {
    tv.min = lo;
    tv.max = hi;
    tv.mean = sum / static_cast<double>(counted);
  }
}

struct Source {
  std::size_t count = 0;
  std::function<ShownValue(std::size_t)> show;  // formats element i
  std::vector<double> numbers;                  // for min/max/mean; empty when not numeric
};

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
    stream_numbers(reader, e, edge, all_limit, tv);
    return tv;
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
