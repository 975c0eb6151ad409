#pragma once
// A Dataset (host/data/dataset.h) from data files rather than an IDX folder:
// --data FILE with its own splits (an .npz's x_test) or splits carved from it
// (--test-split/--validation-split, stratified, host/data/splits.h), or
// --test-data/--validation-data files; then the class selection and the cap
// per class, as for IDX folders; then raw values become features as the
// model input says (x = raw * scale, then (x - mean) / stddev).
#include <optional>
#include <string>
#include <vector>

#include "host/data/data_file.h"
#include "host/data/dataset.h"
#include "host/data/splits.h"
#include "host/model/model_description.h"

namespace graft {

struct FileDatasetOptions {
  std::string data;
  std::string test_data, validation_data;  // files for those splits (empty: none)
  SplitFractions split;                    // fractions carved from `data`
  DataFileOptions file;                    // --labels, CSV label column, class names, memory limit
  std::vector<int> classes, relabel_to;    // as DatasetOptions
  int64_t per_class = 0;
  // false (eval, predict): only the test split is built: --test-data, or
  // the carved --test-split, or the file's own test part, or every row.
  bool load_train = true;
  // The recorded input transform (eval, predict, resume); nullopt: the data's
  // natural scale (1/255 for unsigned bytes, else 1), no standardization.
  std::optional<ModelInput> input;
  // Training without a recorded input: raw values x this scale instead of
  // the natural one (pixels stored as 0-255 in a CSV: 1/255).
  std::optional<double> scale;
};

// Throws graft::Error naming the file for unreadable data, splits that
// contradict each other (an .npz with x_test and --test-split), files whose
// feature counts differ, and no training rows.
Dataset load_file_dataset(const FileDatasetOptions& options);

// raw -> feature, in place (the one definition used by train, eval and predict).
void apply_input_transform(std::vector<float>& features, int64_t cols, double scale, const std::vector<float>& mean,
                           const std::vector<float>& stddev);

}  // namespace graft
