#include "host/data/file_dataset.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "checkpoint/error.h"
#include "host/data/standardize.h"

namespace graft {
namespace {

// The rows of `raw` at `rows` whose label is kept, relabelled and transformed.
DataSplit make_split(const RawData& raw, const std::vector<int64_t>& rows, const std::vector<int32_t>& label_of,
                     int64_t per_class, double scale, const ModelInput* input, std::vector<int32_t>* kept_originals) {
  DataSplit s;
  s.cols = raw.cols;
  std::map<int32_t, int64_t> taken;
  for (int64_t r : rows) {
    const int32_t original = raw.labels[static_cast<std::size_t>(r)];
    const int32_t label = label_of[static_cast<std::size_t>(original)];
    if (label < 0) continue;
    if (per_class > 0 && taken[label]++ >= per_class) continue;
    s.labels.push_back(label);
    if (kept_originals) kept_originals->push_back(original);
    const float* src = raw.features.data() + r * raw.cols;
    s.features.insert(s.features.end(), src, src + raw.cols);
  }
  s.rows = static_cast<int64_t>(s.labels.size());
  static const std::vector<float> none;
  apply_input_transform(s.features, s.cols, scale, input ? input->mean : none, input ? input->stddev : none);
  return s;
}

std::vector<int64_t> all_rows(const RawData& raw) {
  std::vector<int64_t> rows(static_cast<std::size_t>(raw.rows));
  for (int64_t i = 0; i < raw.rows; ++i) rows[static_cast<std::size_t>(i)] = i;
  return rows;
}

void require_labels(const RawData& raw) {
  if (raw.labels.empty()) {
    throw Error(raw.origin + ": no labels (give a CSV label column with --label-column, or the labels of an .npy "
                "or IDX file with --labels FILE)");
  }
}

// A separate file for one split: its test part if it has one, else its rows.
RawData read_split_file(const std::string& path, DataFileOptions options, const std::vector<std::string>& names,
                        int64_t cols) {
  if (!names.empty()) options.csv.class_names = names;
  DataFile file = read_data_file(path, options);
  RawData raw = file.test ? std::move(*file.test) : std::move(file.rows);
  require_labels(raw);
  if (raw.cols != cols) {
    throw Error(fmt::format("{} has {} features per row, the training data {}", raw.origin, raw.cols, cols));
  }
  return raw;
}

}  // namespace

void apply_input_transform(std::vector<float>& features, int64_t cols, double scale, const std::vector<float>& mean,
                           const std::vector<float>& stddev) {
  // The scale is computed in double and rounded once: for bytes and scale
  // 1/255 this is exactly the IDX loader's float(pixel) / 255.0f. The
  // standardization then works on that float, as for IDX folders and as
  // training fitted it (host/data/standardize.h), so every path agrees.
  for (std::size_t i = 0; i < features.size(); ++i) {
    const float x = static_cast<float>(static_cast<double>(features[i]) * scale);
    if (mean.empty()) {
      features[i] = x;
    } else {
      const std::size_t c = i % static_cast<std::size_t>(cols);
      features[i] = standardize_value(x, mean[c], stddev[c]);
    }
  }
}

Dataset load_file_dataset(const FileDatasetOptions& o) {
  DataFileOptions file_options = o.file;
  DataFile file = read_data_file(o.data, file_options);
  RawData& rows = file.rows;
  require_labels(rows);
  const std::vector<std::string> names = rows.class_names.empty() ? o.file.csv.class_names : rows.class_names;
  if (o.input && o.input->features != rows.cols) {
    throw Error(fmt::format("the model takes {} features, {} has {}", o.input->features, rows.origin, rows.cols));
  }

  const bool carve_test = o.split.test > 0, carve_valid = o.split.validation > 0;
  if (carve_test && (file.test || !o.test_data.empty())) {
    throw Error(fmt::format("--test-split with {}: {} already has a test split", file.test ? o.data : "--test-data",
                            file.test ? o.data : o.test_data));
  }
  if (carve_valid && (file.validation || !o.validation_data.empty())) {
    throw Error(fmt::format("--validation-split with {}: the validation rows are given already",
                            file.validation ? o.data : "--validation-data"));
  }
  RowSplit split = stratified_split(rows.labels, o.split);

  // The test split's source: a file, carved rows, the file's own part, or
  // (evaluation only) every row.
  std::optional<RawData> test_file, valid_file;
  if (!o.test_data.empty()) test_file = read_split_file(o.test_data, o.file, names, rows.cols);
  if (file.test) {
    require_labels(*file.test);
    test_file = std::move(file.test);
  }
  if (o.load_train && !o.validation_data.empty()) {
    valid_file = read_split_file(o.validation_data, o.file, names, rows.cols);
  }
  if (o.load_train && file.validation) {
    require_labels(*file.validation);
    valid_file = std::move(file.validation);
  }

  // label_of[original] = new label, or -1 when the class is not kept.
  std::vector<int32_t> label_of(static_cast<std::size_t>(kMaxLabel) + 1, -1);
  Dataset out;
  if (o.classes.empty()) {
    for (int c = 0; c <= kMaxLabel; ++c) label_of[static_cast<std::size_t>(c)] = c;
  } else {
    if (!o.relabel_to.empty() && o.relabel_to.size() != o.classes.size()) {
      throw Error("FileDatasetOptions::relabel_to needs one label per class");
    }
    for (std::size_t i = 0; i < o.classes.size(); ++i) {
      if (o.classes[i] < 0 || o.classes[i] > kMaxLabel) throw Error(fmt::format("class {} is out of range", o.classes[i]));
      label_of[static_cast<std::size_t>(o.classes[i])] = o.relabel_to.empty() ? static_cast<int32_t>(i) : o.relabel_to[i];
    }
    out.original_labels = o.classes;
  }
  const double scale = o.input ? o.input->scale : o.scale ? *o.scale : rows.natural_scale;
  const ModelInput* input = o.input ? &*o.input : nullptr;
  std::vector<int32_t> originals[3];  // train, validation, test: for the report
  if (test_file) {
    out.test = make_split(*test_file, all_rows(*test_file), label_of, 0, scale, input, &originals[2]);
  } else if (carve_test || !o.load_train) {
    out.test = make_split(rows, carve_test ? split.test : split.train, label_of, 0, scale, input, &originals[2]);
  }
  if (o.load_train) {
    out.train = make_split(rows, split.train, label_of, o.per_class, scale, input, &originals[0]);
    out.validation = valid_file ? make_split(*valid_file, all_rows(*valid_file), label_of, 0, scale, input, &originals[1])
                                : make_split(rows, split.validation, label_of, 0, scale, input, &originals[1]);
    if (out.train.rows == 0) throw Error(o.data + ": no training rows of the chosen classes");
  }
  out.train.cols = out.validation.cols = out.test.cols = rows.cols;

  int max_label = -1;
  for (const DataSplit* s : {&out.train, &out.validation, &out.test}) {
    for (int32_t l : s->labels) max_label = std::max<int>(max_label, l);
  }
  out.num_classes = o.classes.empty() ? max_label + 1 : static_cast<int>(o.classes.size());
  if (o.classes.empty() && !names.empty()) out.num_classes = std::max<int>(out.num_classes, static_cast<int>(names.size()));
  if (!o.relabel_to.empty()) out.num_classes = 1 + *std::max_element(o.relabel_to.begin(), o.relabel_to.end());
  if (out.original_labels.empty()) {
    for (int c = 0; c < out.num_classes; ++c) out.original_labels.push_back(c);
  }
  out.input_scale = scale;
  out.class_names = names;
  out.label_column = rows.label_column;
  out.split_report = split_table(originals[0], originals[1], originals[2], names);
  return out;
}

}  // namespace graft
