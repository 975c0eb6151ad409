#include "host/data/dataset.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "checkpoint/error.h"
#include "host/backend.h"
#include "host/data/idx.h"

namespace graft {
namespace {

namespace fs = std::filesystem;

// NAME or NAME.gz inside dir (the uncompressed file wins when both exist).
std::string find_file(const std::string& dir, const std::string& name) {
  for (const std::string& candidate : {name, name + ".gz"}) {
    const fs::path p = fs::path(dir) / candidate;
    if (fs::is_regular_file(p)) return p.string();
  }
  throw Error("data folder " + dir + ": missing " + name + "[.gz]");
}

// The raw images and labels of one split.
struct RawSplit {
  IdxArray images, labels;
  std::string images_path, labels_path;
  int64_t rows() const { return images.dims[0]; }
  int64_t cols() const { return images.dims[1] * images.dims[2]; }
};

RawSplit read_split(const std::string& dir, const std::string& stem) {
  RawSplit raw;
  raw.images_path = find_file(dir, stem + "-images-idx3-ubyte");
  const std::string labels_path = find_file(dir, stem + "-labels-idx1-ubyte");
  raw.labels_path = labels_path;
  raw.images = read_idx_u8(raw.images_path, 3);
  raw.labels = read_idx_u8(labels_path, 1);
  if (raw.labels.dims[0] != raw.images.dims[0]) {
    throw Error(labels_path + ": " + std::to_string(raw.labels.dims[0]) + " labels for " +
                std::to_string(raw.images.dims[0]) + " images in " + raw.images_path);
  }
  return raw;
}

// Rows of `raw` (by index) into a split, pixels scaled like the book's
// X.astype(np.float32) / 255, or by `scale` (in double, rounded once).
DataSplit make_split(const RawSplit& raw, const std::vector<int64_t>& rows, const std::vector<int32_t>& label_of,
                     const std::optional<double>& scale) {
  // The float32 features take 4 bytes per pixel byte of the IDX file.
  const long double bytes = 4.0L * static_cast<long double>(rows.size()) * static_cast<long double>(raw.cols());
  const BackendMemory ram = host_memory();
  if (ram.available_bytes > 0 && bytes > static_cast<long double>(ram.available_bytes)) {
    throw Error(raw.images_path + ": " + std::to_string(rows.size()) + " rows of " + std::to_string(raw.cols()) +
                " pixels need " + std::to_string(static_cast<int64_t>(bytes)) + " bytes as float32, more than the " +
                std::to_string(ram.available_bytes) + " bytes of RAM available");
  }
  DataSplit split;
  split.rows = static_cast<int64_t>(rows.size());
  split.cols = raw.cols();
  split.features.resize(static_cast<std::size_t>(split.rows * split.cols));
  split.labels.resize(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const uint8_t* src = raw.images.data.data() + rows[i] * split.cols;
    float* dst = split.features.data() + static_cast<int64_t>(i) * split.cols;
    if (scale) {
      for (int64_t c = 0; c < split.cols; ++c) dst[c] = static_cast<float>(static_cast<double>(src[c]) * *scale);
    } else {
      for (int64_t c = 0; c < split.cols; ++c) dst[c] = static_cast<float>(src[c]) / 255.0f;
    }
    split.labels[i] = label_of[raw.labels.data[static_cast<std::size_t>(rows[i])]];
  }
  return split;
}

// Without --classes the model gets 1 + the largest label classes, so a stray
// label (200 among 0-9) would silently make a 201-class model. Every label
// up to the largest must occur; else the first row past the gap is named.
void check_no_label_gap(const std::vector<const RawSplit*>& splits) {
  std::vector<int64_t> count(256, 0);
  for (const RawSplit* s : splits) {
    for (uint8_t l : s->labels.data) ++count[l];
  }
  int missing = 0;
  while (missing < 256 && count[static_cast<std::size_t>(missing)] > 0) ++missing;
  int largest = 255;
  while (largest >= 0 && count[static_cast<std::size_t>(largest)] == 0) --largest;
  if (largest < missing) return;
  for (const RawSplit* s : splits) {
    for (std::size_t row = 0; row < s->labels.data.size(); ++row) {
      const int l = s->labels.data[row];
      if (l <= missing) continue;
      throw Error(s->labels_path + ": row " + std::to_string(row) + " has label " + std::to_string(l) +
                  ", but no row has label " + std::to_string(missing) + ": the model would get " +
                  std::to_string(largest + 1) + " classes; choose the classes with --classes (e.g. 0-" +
                  std::to_string(missing - 1 < 0 ? 0 : missing - 1) + ")");
    }
  }
}

// Rows whose original label is kept, in file order.
std::vector<int64_t> kept_rows(const RawSplit& raw, const std::vector<int32_t>& label_of) {
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < raw.rows(); ++i) {
    if (label_of[raw.labels.data[static_cast<std::size_t>(i)]] >= 0) rows.push_back(i);
  }
  return rows;
}

}  // namespace

std::vector<int> parse_class_list(const std::string& text) {
  std::vector<int> classes;
  std::set<int> seen;
  auto bad = [&](const std::string& why) { return Error("--classes '" + text + "': " + why); };
  auto parse_int = [&](const std::string& s) {
    if (s.empty() || s.size() > 6 || !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); })) {
      throw bad("'" + s + "' is not a class number");
    }
    return std::stoi(s);
  };
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const std::size_t dash = item.find('-');
    int lo, hi;
    if (dash == std::string::npos) {
      lo = hi = parse_int(item);
    } else {
      lo = parse_int(item.substr(0, dash));
      hi = parse_int(item.substr(dash + 1));
      if (hi < lo) throw bad("range " + item + " is empty");
    }
    for (int c = lo; c <= hi; ++c) {
      if (c > 255) throw bad("class " + std::to_string(c) + " cannot occur in an IDX label file");
      if (!seen.insert(c).second) throw bad("class " + std::to_string(c) + " listed twice");
      classes.push_back(c);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return classes;
}

std::string Dataset::describe() const {
  return std::to_string(train.rows) + " train, " + std::to_string(validation.rows) + " validation, " +
         std::to_string(test.rows) + " test; " + std::to_string(test.cols) + " features; " +
         std::to_string(num_classes) + " classes";
}

Dataset load_dataset(const DatasetOptions& options) {
  if (options.validation < 0) throw Error("--validation must not be negative");
  if (options.per_class < 0) throw Error("--per-class must not be negative");
  if (!fs::is_directory(options.dir)) throw Error("data folder " + options.dir + " does not exist");

  // label_of[original] = new label, or -1 when the class is not kept.
  std::vector<int32_t> label_of(256, -1);
  Dataset out;
  if (options.classes.empty()) {
    for (int c = 0; c < 256; ++c) label_of[c] = c;
  } else {
    if (!options.relabel_to.empty() && options.relabel_to.size() != options.classes.size()) {
      throw Error("DatasetOptions::relabel_to needs one label per class");
    }
    for (std::size_t i = 0; i < options.classes.size(); ++i) {
      label_of[options.classes[i]] = options.relabel_to.empty() ? static_cast<int32_t>(i) : options.relabel_to[i];
    }
    out.original_labels = options.classes;
  }

  const RawSplit test = read_split(options.dir, "t10k");
  out.test = make_split(test, kept_rows(test, label_of), label_of, options.scale);
  int max_label = -1;
  for (int32_t l : out.test.labels) max_label = std::max<int>(max_label, l);

  if (options.load_train) {
    const RawSplit train = read_split(options.dir, "train");
    if (train.cols() != test.cols()) {
      throw Error(train.images_path + ": images of " + std::to_string(train.cols()) + " pixels, but " +
                  test.images_path + " has " + std::to_string(test.cols()));
    }
    std::vector<int64_t> rows = kept_rows(train, label_of);
    if (rows.empty()) {
      std::string list;
      for (int c : options.classes) list += (list.empty() ? "" : ", ") + std::to_string(c);
      throw Error(train.labels_path + ": no row has any of the chosen classes (" + list + ")");
    }
    if (options.validation >= static_cast<int64_t>(rows.size())) {
      throw Error("--validation " + std::to_string(options.validation) + " leaves no training rows: " +
                  train.images_path + " has " + std::to_string(rows.size()) + " rows of the chosen classes");
    }
    const std::vector<int64_t> valid_rows(rows.begin(), rows.begin() + options.validation);
    std::vector<int64_t> train_rows;
    std::map<int, int64_t> taken;
    for (auto it = rows.begin() + options.validation; it != rows.end(); ++it) {
      const int label = label_of[train.labels.data[static_cast<std::size_t>(*it)]];
      if (options.per_class > 0 && taken[label] >= options.per_class) continue;
      ++taken[label];
      train_rows.push_back(*it);
    }
    out.train = make_split(train, train_rows, label_of, options.scale);
    out.validation = make_split(train, valid_rows, label_of, options.scale);
    if (options.classes.empty()) check_no_label_gap({&train, &test});
    for (int32_t l : out.train.labels) max_label = std::max<int>(max_label, l);
    // A validation label the model has no output for would be scored as a miss.
    for (int32_t l : out.validation.labels) max_label = std::max<int>(max_label, l);
  } else {
    if (options.classes.empty()) check_no_label_gap({&test});
    out.train.cols = out.validation.cols = out.test.cols;
  }

  out.num_classes = options.classes.empty() ? max_label + 1 : static_cast<int>(options.classes.size());
  if (!options.relabel_to.empty()) {
    out.num_classes = 1 + *std::max_element(options.relabel_to.begin(), options.relabel_to.end());
  }
  if (out.original_labels.empty()) {
    for (int c = 0; c < out.num_classes; ++c) out.original_labels.push_back(c);
  }
  return out;
}

}  // namespace graft
