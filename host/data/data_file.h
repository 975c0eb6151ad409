#pragma once
// One data file of any supported format, recognised by its content: .npy
// (\x93NUMPY), .npz (a zip archive), IDX (raw or gzip), else CSV. A file may
// carry its own splits (an .npz with x_train/x_test, ...).
#include <optional>
#include <string>

#include "host/data/csv.h"
#include "host/data/raw_data.h"

namespace graft {

struct DataFileOptions {
  // The labels of a features-only file (.npy or IDX): a [N] integer .npy or a
  // rank-1 IDX file. Empty: the file's own labels, if it has any.
  std::string labels;
  CsvOptions csv;  // label column and known class names (CSV only)
  DataLimits limits;
};

struct DataFile {
  std::string path;
  std::string format;  // "npy", "npz", "csv", "idx"
  RawData rows;        // all rows, or the training part of a file with splits
  std::optional<RawData> test, validation;  // an .npz's x_test/y_test, x_val/y_val
};

// The names an .npz may use, pairs of features/labels arrays; the labels
// array may be missing (features only). Any other name is an error that
// lists these.
//   rows:       x_train/y_train, x/y, X/y, features/labels, arr_0/arr_1
//   test:       x_test/y_test
//   validation: x_val/y_val, x_valid/y_valid, x_validation/y_validation
const char* npz_names_text();

// Throws graft::Error naming the file for anything unreadable, and when
// features and labels differ in row count.
DataFile read_data_file(const std::string& path, const DataFileOptions& options = {});

}  // namespace graft
