#pragma once
// CSV data files: a header row naming the columns, then one row per example
// with numeric features and (optionally) a label column. Parsed with Debian's
// libcsv (RFC 4180: quoted fields, embedded commas, quotes and newlines,
// CRLF), chosen over libfccp because fccp fixes the column count at compile
// time. Labels are non-negative integers, or class names mapped to indices.
#include <string>
#include <vector>

#include "host/data/raw_data.h"

namespace graft {

struct CsvOptions {
  // The label column by header name, or by 0-based index when no column has
  // that name. Empty: the column named "label" when there is one, else none.
  std::string label_column;
  bool require_label = false;
  // label_column names a column that may be absent (a model's recorded label
  // column, predicting rows without labels): then no labels, no error.
  bool label_optional = false;
  // Class names already known (recorded in a model): a label must be one of
  // them and maps to its index. Empty: integer labels stay integers; any
  // other label text makes every label a class name, numbered in sorted order.
  std::vector<std::string> class_names;
  DataLimits limits;
};

// Throws graft::Error naming the file, the line and the column for a
// missing header, a ragged row, an empty, non-numeric or non-finite feature,
// a label out of range or not among class_names, and malformed quoting.
RawData read_csv(const std::string& path, const CsvOptions& options = {});

}  // namespace graft
