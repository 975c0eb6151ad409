#include "host/data/data_file.h"

#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "checkpoint/error.h"
#include "host/data/idx.h"
#include "host/data/npy.h"
#include "host/data/npz.h"

namespace graft {
namespace {

std::string sniff_format(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open");
  char head[6] = {};
  in.read(head, sizeof head);
  const std::streamsize n = in.gcount();
  if (n >= 6 && std::memcmp(head, "\x93NUMPY", 6) == 0) return "npy";
  if (n >= 4 && std::memcmp(head, "PK\x03\x04", 4) == 0) return "npz";
  if (n >= 2 && ((head[0] == 0 && head[1] == 0) || (head[0] == '\x1f' && head[1] == '\x8b'))) return "idx";
  return "csv";
}

std::vector<int32_t> read_labels_file(const std::string& path, const DataLimits& limits) {
  const std::string format = sniff_format(path);
  if (format == "npy") return npy_labels(read_npy(path, limits), path);
  if (format == "idx") return read_idx_labels(path, limits);
  throw Error(path + ": a labels file must be .npy or IDX");
}

void attach_labels(RawData& rows, std::vector<int32_t> labels, const std::string& labels_origin) {
  if (static_cast<int64_t>(labels.size()) != rows.rows) {
    throw Error(fmt::format("{}: {} labels for the {} rows of {}", labels_origin, labels.size(), rows.rows,
                            rows.origin));
  }
  rows.labels = std::move(labels);
}

struct NpzPair {
  const char* features;
  const char* labels;
  int part;  // 0 rows, 1 test, 2 validation
};
constexpr NpzPair kNpzPairs[] = {
    {"x_train", "y_train", 0}, {"x", "y", 0},      {"X", "y", 0},          {"features", "labels", 0},
    {"arr_0", "arr_1", 0},     {"x_test", "y_test", 1}, {"x_val", "y_val", 2}, {"x_valid", "y_valid", 2},
    {"x_validation", "y_validation", 2}};

DataFile read_npz_file(const std::string& path, const DataLimits& limits) {
  std::map<std::string, NpyArray> arrays = read_npz(path, limits);
  DataFile out;
  std::set<std::string> used;
  bool have[3] = {false, false, false};
  for (const NpzPair& p : kNpzPairs) {
    const auto f = arrays.find(p.features);
    const auto l = arrays.find(p.labels);
    if (f == arrays.end()) continue;  // labels without their features are reported below
    if (have[p.part]) {
      throw Error(fmt::format("{}: two arrays of {} features (one is '{}'); {}", path,
                              p.part == 0 ? "training" : p.part == 1 ? "test" : "validation", p.features,
                              npz_names_text()));
    }
    have[p.part] = true;
    RawData rows = npy_features(f->second, path + ":" + p.features);
    used.insert(p.features);
    if (l != arrays.end()) {
      attach_labels(rows, npy_labels(l->second, path + ":" + p.labels), path + ":" + p.labels);
      used.insert(p.labels);
    }
    if (p.part == 0) out.rows = std::move(rows);
    if (p.part == 1) out.test = std::move(rows);
    if (p.part == 2) out.validation = std::move(rows);
  }
  for (const auto& [name, array] : arrays) {
    if (!used.count(name)) throw Error(fmt::format("{}: array '{}' is not one graft reads; {}", path, name, npz_names_text()));
  }
  if (!have[0]) {
    // Only x_test/y_test: the test part is the data.
    if (!out.test) throw Error(fmt::format("{}: no features array; {}", path, npz_names_text()));
    out.rows = std::move(*out.test);
    out.test.reset();
  }
  const int64_t cols = out.rows.cols;
  for (const std::optional<RawData>* part : {&out.test, &out.validation}) {
    if (*part && (*part)->cols != cols) {
      throw Error(fmt::format("{} has {} features per row, {} has {}", (*part)->origin, (*part)->cols, out.rows.origin,
                              cols));
    }
  }
  return out;
}

}  // namespace

const char* npz_names_text() {
  return "an .npz may hold x_train/y_train (or x/y, X/y, features/labels, arr_0/arr_1), x_test/y_test and "
         "x_val/y_val (or x_valid/y_valid, x_validation/y_validation)";
}

DataFile read_data_file(const std::string& path, const DataFileOptions& options) {
  DataFile out;
  const std::string format = sniff_format(path);
  if (format == "npz") {
    out = read_npz_file(path, options.limits);
    if (!options.labels.empty()) throw Error(path + ": an .npz holds its own labels; leave out --labels");
  } else if (format == "csv") {
    if (!options.labels.empty()) throw Error(path + ": a CSV file holds its own label column; leave out --labels");
    CsvOptions csv = options.csv;
    csv.limits = options.limits;
    out.rows = read_csv(path, csv);
  } else {
    out.rows = format == "npy" ? npy_features(read_npy(path, options.limits), path)
                               : read_idx_features(path, options.limits);
    if (!options.labels.empty()) {
      attach_labels(out.rows, read_labels_file(options.labels, options.limits), options.labels);
    }
  }
  out.path = path;
  out.format = format;
  return out;
}

}  // namespace graft
