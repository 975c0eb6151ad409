#include "host/data/csv.h"

#include <csv.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <memory>

#include "checkpoint/error.h"

namespace graft {
namespace {

// Collects the fields of each record; libcsv calls back per field and per
// record end. Records are turned into rows as they end, so memory holds the
// features, not the text.
struct Collector {
  std::string path;
  const CsvOptions* options = nullptr;
  int64_t line = 0;  // the line being parsed (1-based): records end on it
  std::vector<std::string> fields;
  std::vector<std::string> header;
  int64_t label_index = -1;  // column of the label in the header, -1: none
  RawData out;
  std::vector<std::string> label_texts;
  std::vector<int64_t> label_lines;  // the line each label's record ends on
  std::string error;  // set by a callback (no exceptions through C code)

  void fail(const std::string& why) {
    if (error.empty()) error = why;
  }
  void end_record() {
    if (!error.empty()) {
      fields.clear();
      return;
    }
    if (header.empty()) {
      set_header();
    } else {
      add_row();
    }
    fields.clear();
  }
  void set_header() {
    header = fields;
    const std::string wanted = options->label_column.empty() ? "label" : options->label_column;
    int64_t matches = 0;
    for (std::size_t i = 0; i < header.size(); ++i) {
      if (header[i] == wanted) {
        label_index = static_cast<int64_t>(i);
        ++matches;
      }
    }
    if (matches > 1) return fail(fmt::format("{} line 1: {} columns are named '{}'", path, matches, wanted));
    if (matches == 0 && !options->label_column.empty() && !options->label_optional) {
      const std::string& s = options->label_column;
      int64_t index = -1;
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), index);
      if (ec != std::errc() || end != s.data() + s.size() || index < 0 ||
          index >= static_cast<int64_t>(header.size())) {
        return fail(fmt::format("{}: no column '{}' (columns: {}); --label-column takes a name or a 0-based index",
                                path, s, fmt::join(header, ",")));
      }
      label_index = index;
    }
    if (label_index < 0 && options->require_label) {
      return fail(fmt::format("{}: no label column 'label' (columns: {}); name it with --label-column", path,
                              fmt::join(header, ",")));
    }
    for (std::size_t i = 0; i < header.size(); ++i) {
      if (static_cast<int64_t>(i) != label_index) out.column_names.push_back(header[i]);
    }
    if (label_index >= 0) out.label_column = header[static_cast<std::size_t>(label_index)];
    out.cols = static_cast<int64_t>(out.column_names.size());
    if (out.cols == 0) fail(path + ": no feature columns");
  }
  void add_row() {
    if (fields.size() != header.size()) {
      return fail(fmt::format("{} line {}: {} fields, the header has {}", path, line, fields.size(), header.size()));
    }
    // Checked per row: the file's size is known, its row count is not.
    const int64_t bytes = (out.rows + 1) * out.cols * static_cast<int64_t>(sizeof(float));
    if (bytes > options->limits.max_bytes) {
      try {
        check_data_size(bytes, options->limits, path, "the features read so far");
      } catch (const Error& e) {
        return fail(e.what());
      }
    }
    for (std::size_t i = 0; i < fields.size(); ++i) {
      const std::string& text = fields[i];
      if (static_cast<int64_t>(i) == label_index) {
        if (text.empty()) return fail(fmt::format("{} line {}: column '{}': empty label", path, line, header[i]));
        label_texts.push_back(text);
        label_lines.push_back(line);
        continue;
      }
      double v = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
        return fail(fmt::format("{} line {}: column '{}': '{}' is not a number{}", path, line, header[i],
                                text.substr(0, 40),
                                label_index < 0 ? " (if it is the label column, name it with --label-column)" : ""));
      }
      const float f = static_cast<float>(v);
      if (!std::isfinite(f)) {
        return fail(fmt::format("{} line {}: column '{}': feature value {} is not a finite float32", path, line,
                                header[i], text.substr(0, 40)));
      }
      out.features.push_back(f);
    }
    ++out.rows;
  }
};

void on_field(void* data, std::size_t size, void* user) {
  auto* c = static_cast<Collector*>(user);
  c->fields.emplace_back(data ? static_cast<const char*>(data) : "", data ? size : 0);
}

void on_record(int, void* user) { static_cast<Collector*>(user)->end_record(); }

struct ParserFree {
  void operator()(csv_parser* p) const { csv_free(p); }
};

// Label texts -> original labels: integers as they are; class names by
// their index in `names` (given, or the sorted distinct texts).
void resolve_labels(Collector& c) {
  const CsvOptions& options = *c.options;
  std::vector<int32_t>& labels = c.out.labels;
  labels.reserve(c.label_texts.size());
  const std::string& column = c.header[static_cast<std::size_t>(c.label_index)];
  auto integer = [](const std::string& t, int64_t& v) {
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    return ec == std::errc() && end == t.data() + t.size();
  };
  bool all_integers = options.class_names.empty();
  for (const std::string& t : c.label_texts) {
    int64_t v;
    if (!all_integers) break;
    all_integers = integer(t, v);
  }
  if (all_integers) {
    for (std::size_t r = 0; r < c.label_texts.size(); ++r) {
      int64_t v = 0;
      integer(c.label_texts[r], v);
      if (v < 0 || v > kMaxLabel) {
        throw Error(fmt::format("{} line {}: column '{}': label {} is out of range (0..{})", c.path, c.label_lines[r], column, v,
                                kMaxLabel));
      }
      labels.push_back(static_cast<int32_t>(v));
    }
    return;
  }
  std::vector<std::string> names = options.class_names;
  if (names.empty()) {
    names = c.label_texts;
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    if (static_cast<int64_t>(names.size()) > kMaxLabel + 1) {
      throw Error(fmt::format("{}: column '{}' holds {} distinct class names", c.path, column, names.size()));
    }
  }
  std::map<std::string, int32_t> index;
  for (std::size_t i = 0; i < names.size(); ++i) index.emplace(names[i], static_cast<int32_t>(i));
  for (std::size_t r = 0; r < c.label_texts.size(); ++r) {
    const auto it = index.find(c.label_texts[r]);
    if (it == index.end()) {
      throw Error(fmt::format("{} line {}: column '{}': class '{}' is not one of the model's classes ({})", c.path,
                              c.label_lines[r], column, c.label_texts[r].substr(0, 40), fmt::join(names, ",")));
    }
    labels.push_back(it->second);
  }
  c.out.class_names = names;
}

}  // namespace

RawData read_csv(const std::string& path, const CsvOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open");
  csv_parser parser;
  if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) throw Error("libcsv: cannot initialise");
  std::unique_ptr<csv_parser, ParserFree> guard(&parser);
  Collector c;
  c.path = path;
  c.options = &options;
  c.out.origin = path;

  // Fed one line at a time, so a record's callback knows the line it ends on.
  std::string line;
  while (std::getline(in, line)) {
    ++c.line;
    line.push_back('\n');
    if (csv_parse(&parser, line.data(), line.size(), on_field, on_record, &c) != line.size()) {
      throw Error(fmt::format("{} line {}: {}", path, c.line, csv_strerror(csv_error(&parser))));
    }
    if (!c.error.empty()) throw Error(c.error);
  }
  if (csv_fini(&parser, on_field, on_record, &c) != 0) {
    throw Error(fmt::format("{} line {}: {} (an unterminated quoted field?)", path, c.line,
                            csv_strerror(csv_error(&parser))));
  }
  if (!c.error.empty()) throw Error(c.error);
  if (c.header.empty()) throw Error(path + ": empty file (a header row naming the columns is needed)");
  if (c.out.rows == 0) throw Error(path + ": a header but no data rows");
  if (c.label_index >= 0) resolve_labels(c);
  return std::move(c.out);
}

}  // namespace graft
