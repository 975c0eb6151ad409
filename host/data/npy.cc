#include "host/data/npy.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "checkpoint/error.h"

namespace graft {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;
constexpr std::size_t kMaxHeader = 1 << 20;  // numpy's own limit is far lower (10,000 bytes by default)

// A cursor over the header's dict literal; every error names the file.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& origin) : s_(text), origin_(origin) {}

  [[noreturn]] void fail(const std::string& why) const {
    throw Error(fmt::format("{}: bad .npy header ({} at offset {}): {}", origin_, why, pos_, excerpt()));
  }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n')) ++pos_;
  }
  bool peek(char c) {
    skip_space();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  void expect(char c) {
    if (!peek(c)) fail(fmt::format("expected '{}'", c));
    ++pos_;
  }
  std::string string_literal() {
    skip_space();
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) fail("expected a string");
    const char quote = s_[pos_++];
    const std::size_t end = s_.find(quote, pos_);
    if (end == std::string::npos) fail("unterminated string");
    std::string out = s_.substr(pos_, end - pos_);
    if (out.find('\\') != std::string::npos) fail("escapes are not supported");
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    skip_space();
    for (const auto& [word, value] : {std::pair<const char*, bool>{"True", true}, {"False", false}}) {
      if (s_.compare(pos_, std::strlen(word), word) == 0) {
        pos_ += std::strlen(word);
        return value;
      }
    }
    fail("expected True or False");
  }
  int64_t integer() {
    skip_space();
    const std::size_t start = pos_;
    int64_t v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) fail("dimension too large");
      v = v * 10 + (s_[pos_++] - '0');
    }
    if (pos_ == start) fail("expected a non-negative integer");
    if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;  // Python 2 longs
    return v;
  }
  std::vector<int64_t> shape() {
    expect('(');
    std::vector<int64_t> dims;
    while (!peek(')')) {
      dims.push_back(integer());
      if (dims.size() > 32) fail("more than 32 dimensions");
      if (peek(',')) {
        ++pos_;
      } else if (!peek(')')) {
        fail("expected ',' or ')' in the shape");
      }
    }
    ++pos_;
    return dims;
  }
  bool at_end() {
    skip_space();
    return pos_ == s_.size();
  }

 private:
  std::string excerpt() const {
    std::string e = s_.substr(0, 80);
    for (char& c : e) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    }
    return e + (s_.size() > 80 ? "..." : "");
  }
  const std::string& s_;
  const std::string& origin_;
  std::size_t pos_ = 0;
};

NpyDtype parse_dtype(const std::string& text, const std::string& origin) {
  auto bad = [&] {
    return Error(fmt::format("{}: .npy dtype '{}' is not supported (float32/float64, signed or unsigned integers "
                             "of 1-8 bytes, bool; little- or big-endian)",
                             origin, text));
  };
  if (text.size() < 3) throw bad();
  NpyDtype d;
  d.text = text;
  const char order = text[0];
  d.kind = text[1];
  const std::string digits = text.substr(2);
  if (digits != "1" && digits != "2" && digits != "4" && digits != "8") throw bad();
  d.size = digits[0] - '0';
  if (order == '>') {
    d.big_endian = true;
  } else if (order == '|') {
    if (d.size != 1) throw bad();
  } else if (order != '<') {
    throw bad();
  }
  const bool ok = (d.kind == 'f' && (d.size == 4 || d.size == 8)) || d.kind == 'i' || d.kind == 'u' ||
                  (d.kind == 'b' && d.size == 1);
  if (!ok) throw bad();
  return d;
}

uint64_t load_uint(const uint8_t* p, int size, bool big_endian) {
  uint64_t v = 0;
  for (int i = 0; i < size; ++i) v |= uint64_t{p[big_endian ? size - 1 - i : i]} << (8 * i);
  return v;
}

// Element `index` (in storage order) as a double; integers of 8 bytes beyond
// 2^53 lose precision, which no feature or label value here can need.
double element(const NpyArray& a, int64_t index) {
  const uint8_t* p = a.data.data() + index * a.dtype.size;
  const uint64_t bits = load_uint(p, a.dtype.size, a.dtype.big_endian);
  switch (a.dtype.kind) {
    case 'f':
      if (a.dtype.size == 4) {
        const uint32_t b32 = static_cast<uint32_t>(bits);
        float f;
        std::memcpy(&f, &b32, 4);
        return f;
      } else {
        double f;
        std::memcpy(&f, &bits, 8);
        return f;
      }
    case 'i': {
      const int shift = 64 - 8 * a.dtype.size;  // sign-extend
      return static_cast<double>(static_cast<int64_t>(bits << shift) >> shift);
    }
    default:
      return static_cast<double>(bits);
  }
}

// Storage index of row r, column c of a 2-D view [rows, cols].
int64_t storage_index(const NpyArray& a, int64_t r, int64_t c, int64_t rows, int64_t cols) {
  return a.fortran_order ? c * rows + r : r * cols + c;
}

}  // namespace

int64_t NpyArray::elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

NpyArray parse_npy(const uint8_t* bytes, std::size_t size, const std::string& origin, const DataLimits& limits) {
  if (size < kMagicSize + 4 || std::memcmp(bytes, kMagic, kMagicSize) != 0) {
    throw Error(origin + ": not a .npy file (no \\x93NUMPY magic)");
  }
  const int major = bytes[6];
  const int minor = bytes[7];
  if ((major != 1 && major != 2 && major != 3) || minor != 0) {
    throw Error(fmt::format("{}: .npy format version {}.{} is not supported (1.0, 2.0, 3.0)", origin, major, minor));
  }
  std::size_t header_len, offset;
  if (major == 1) {
    header_len = load_uint(bytes + 8, 2, false);
    offset = 10;
  } else {
    if (size < 12) throw Error(origin + ": truncated .npy header");
    header_len = load_uint(bytes + 8, 4, false);
    offset = 12;
  }
  if (header_len > kMaxHeader || header_len > size - offset) {
    throw Error(fmt::format("{}: .npy header of {} bytes, but the file holds {} after the preamble", origin, header_len,
                            size - offset));
  }
  const std::string header(reinterpret_cast<const char*>(bytes + offset), header_len);
  HeaderParser p(header, origin);
  NpyArray out;
  bool have_descr = false, have_order = false, have_shape = false;
  p.expect('{');
  while (!p.peek('}')) {
    const std::string key = p.string_literal();
    p.expect(':');
    bool* seen = nullptr;
    if (key == "descr") {
      if (p.peek('[')) throw Error(origin + ": structured .npy arrays (record dtypes) are not supported");
      out.dtype = parse_dtype(p.string_literal(), origin);
      seen = &have_descr;
    } else if (key == "fortran_order") {
      out.fortran_order = p.boolean();
      seen = &have_order;
    } else if (key == "shape") {
      out.shape = p.shape();
      seen = &have_shape;
    } else {
      p.fail("unexpected key '" + key + "'");
    }
    if (*seen) p.fail("key '" + key + "' given twice");
    *seen = true;
    if (p.peek(',')) {
      p.expect(',');
    } else if (!p.peek('}')) {
      p.fail("expected ',' or '}'");
    }
  }
  p.expect('}');
  if (!p.at_end()) p.fail("text after the dict");
  if (!have_descr || !have_order || !have_shape) {
    p.fail(std::string("missing key '") + (!have_descr ? "descr" : !have_order ? "fortran_order" : "shape") + "'");
  }

  // Overflow-safe size of the data the header announces.
  int64_t total = out.dtype.size;
  for (int64_t d : out.shape) {
    if (d != 0 && total > std::numeric_limits<int64_t>::max() / d) {
      throw Error(origin + ": .npy shape overflows 64 bits");
    }
    total *= d;
  }
  check_data_size(total, limits, origin, "its array would");
  const std::size_t data_offset = offset + header_len;
  if (static_cast<uint64_t>(total) != size - data_offset) {
    throw Error(fmt::format("{}: the .npy header announces {} bytes of data ({} {}), the file holds {}", origin, total,
                            out.elements(), out.dtype.text, size - data_offset));
  }
  out.data.assign(bytes + data_offset, bytes + size);
  return out;
}

NpyArray read_npy(const std::string& path, const DataLimits& limits) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw Error(path + ": cannot open (" + ec.message() + ")");
  check_data_size(static_cast<int64_t>(size), limits, path, "the file's bytes");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open");
  std::vector<uint8_t> bytes(static_cast<std::size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (!in) throw Error(path + ": read error");
  return parse_npy(bytes.data(), bytes.size(), path, limits);
}

RawData npy_features(const NpyArray& a, const std::string& origin) {
  if (a.shape.empty()) throw Error(origin + ": a scalar, not an array of feature rows");
  if (a.dtype.kind == 'b') throw Error(origin + ": features of dtype bool (" + a.dtype.text + ") are not supported");
  RawData out;
  out.origin = origin;
  out.rows = a.shape[0];
  out.cols = 1;
  // An empty array's other dimensions are bounded by nothing (the parser
  // checks the element count, which is 0): refuse it before multiplying them.
  for (int64_t d : a.shape) {
    if (d == 0) throw Error(fmt::format("{}: empty feature array (shape {})", origin, fmt::join(a.shape, "x")));
  }
  for (std::size_t i = 1; i < a.shape.size(); ++i) {
    if (__builtin_mul_overflow(out.cols, a.shape[i], &out.cols)) {
      throw Error(fmt::format("{}: shape {} has too many features per row", origin, fmt::join(a.shape, "x")));
    }
  }
  if (a.fortran_order && a.shape.size() > 2) {
    throw Error(origin + ": Fortran-ordered arrays of more than 2 dimensions are not supported");
  }
  out.natural_scale = a.dtype.kind == 'u' && a.dtype.size == 1 ? 1.0 / 255.0 : 1.0;
  out.features.resize(static_cast<std::size_t>(out.rows * out.cols));
  for (int64_t r = 0; r < out.rows; ++r) {
    for (int64_t c = 0; c < out.cols; ++c) {
      const double v = element(a, storage_index(a, r, c, out.rows, out.cols));
      const float f = static_cast<float>(v);
      if (!std::isfinite(f)) {
        throw Error(fmt::format("{}: row {} column {}: feature value {} is not a finite float32", origin, r, c, v));
      }
      out.features[static_cast<std::size_t>(r * out.cols + c)] = f;
    }
  }
  return out;
}

std::vector<int32_t> npy_labels(const NpyArray& a, const std::string& origin) {
  const bool column = a.shape.size() == 2 && a.shape[1] == 1;
  if (a.shape.size() != 1 && !column) {
    throw Error(fmt::format("{}: labels must have shape [N] (or [N, 1]), not ({})", origin, fmt::join(a.shape, ", ")));
  }
  if (a.dtype.kind != 'i' && a.dtype.kind != 'u') {
    throw Error(fmt::format("{}: labels of dtype {}: integer class labels are needed (numpy: y.astype(np.int64))",
                            origin, a.dtype.text));
  }
  std::vector<int32_t> labels(static_cast<std::size_t>(a.shape[0]));
  for (int64_t r = 0; r < a.shape[0]; ++r) {
    const double v = element(a, r);
    if (v < 0 || v > kMaxLabel) {
      throw Error(fmt::format("{}: row {}: label {} is out of range (0..{})", origin, r, v, kMaxLabel));
    }
    labels[static_cast<std::size_t>(r)] = static_cast<int32_t>(v);
  }
  return labels;
}

namespace {

std::string npy_image(const std::string& descr, const std::string& shape, const void* data, std::size_t bytes) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad with spaces so the data starts on a 64-byte boundary (numpy's rule), newline last.
  const std::size_t unpadded = kMagicSize + 4 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::string out(kMagic, kMagicSize);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>(header.size() >> 8));
  out += header;
  out.append(static_cast<const char*>(data), bytes);  // little-endian hosts only (x86-64, aarch64)
  return out;
}

}  // namespace

std::string npy_image_f32(const std::vector<float>& values, int64_t rows, int64_t cols) {
  const std::string shape = cols > 0 ? fmt::format("({}, {})", rows, cols) : fmt::format("({},)", rows);
  return npy_image("<f4", shape, values.data(), values.size() * sizeof(float));
}

std::string npy_image_i32(const std::vector<int32_t>& values) {
  return npy_image("<i4", fmt::format("({},)", values.size()), values.data(), values.size() * sizeof(int32_t));
}

}  // namespace graft
