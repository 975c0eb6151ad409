#pragma once
// MNIST-style data sets on disk (four IDX files in one folder), turned into
// float32 rows in [0, 1] with int32 labels, with the selections the
// transfer-learning exercises need: a class subset relabelled 0..k-1, a cap
// per class, and a validation split carved from the training set.
//
// Order of operations on the training files: keep the chosen classes
// (relabelled), take the first `validation` rows as the validation split,
// then cap the remaining training rows at the first `per_class` of each class
// in file order. The test split (t10k) gets the class selection only.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace graft {

// Debian's dataset-fashion-mnist package.
inline constexpr const char* kDefaultDataDir = "/usr/share/datasets/fashion-mnist";

struct DataSplit {
  std::vector<float> features;  // [rows, cols] row-major, pixel / 255
  std::vector<int32_t> labels;  // class index (after relabelling)
  int64_t rows = 0;
  int64_t cols = 0;
};

struct DatasetOptions {
  std::string dir = kDefaultDataDir;
  // Original labels to keep, in the order that defines the new labels
  // (classes[i] becomes label i); empty keeps every class unchanged.
  std::vector<int> classes;
  // The new label of classes[i] (default: i). Evaluation uses it to label
  // images with the model output that stands for their class.
  std::vector<int> relabel_to;
  int64_t per_class = 0;     // 0 = no cap
  int64_t validation = 5000;
  bool load_train = true;    // false: only the test split (evaluation)
  // Pixels become features as byte * scale (in double, rounded once to
  // float) instead of byte / 255: for a network whose TensorFlow graph
  // scales its input itself otherwise (ModelInput::read_from).
  std::optional<double> scale;
};

struct Dataset {
  DataSplit train, validation, test;
  int num_classes = 0;              // classes.size(), or 1 + the largest label
  std::vector<int> original_labels; // original label of each class index
  // Files other than IDX folders (host/data/file_dataset.h): how raw values
  // became features (to be recorded in the model), the names of the
  // original labels where the file had names, and the split's rows per class.
  double input_scale = 1.0 / 255.0;
  std::vector<std::string> class_names;
  std::string label_column;  // CSV: the column the labels came from
  std::string split_report;
  std::string describe() const;     // "55000 train, 5000 validation, 10000 test; 784 features; 10 classes"
};

// Throws graft::Error naming the folder or file on any problem.
Dataset load_dataset(const DatasetOptions& options);

// "5-9" -> 5,6,7,8,9; "0,2,4"; "0-2,7". Throws graft::Error on bad syntax,
// negative or repeated classes.
std::vector<int> parse_class_list(const std::string& text);

}  // namespace graft
