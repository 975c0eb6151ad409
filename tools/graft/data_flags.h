#pragma once
// The data-file flags train, eval and predict share (--labels,
// --label-column, --test-data/--test-split, --validation-data/
// --validation-split, --max-data-memory), and the one decision they all make:
// a folder for --data is an MNIST-style IDX folder (host/data/dataset.h),
// anything else a data file (host/data/file_dataset.h).
#include <CLI/CLI.hpp>

#include <optional>
#include <string>

#include "host/data/dataset.h"
#include "host/data/file_dataset.h"
#include "host/model/model_description.h"

namespace graft::cli {

struct DataFlags {
  std::string labels, label_column;
  std::string test_data, validation_data;
  double test_split = 0.0, validation_split = 0.0;
  std::string max_memory;
  std::optional<double> input_scale;  // train: raw value x SCALE, recorded in the model
};

enum class DataUse { kTrain, kEval, kPredict };
void add_data_flags(CLI::App* sub, DataFlags& flags, DataUse use);

// True when `data` names an existing file rather than an IDX folder.
bool is_data_file(const std::string& data);

// Throws graft::Error when a file-only flag is given with an IDX folder.
void check_folder_flags(const std::string& data, const DataFlags& flags);

// The options of a file data set: the flags, the class selection of an IDX
// DatasetOptions (classes, relabel_to, per_class, load_train), and the
// recorded model when there is one (its input transform and class names).
FileDatasetOptions file_options(const std::string& data, const DataFlags& flags, const DatasetOptions& selection,
                                uint64_t seed, const std::optional<ModelDescription>& recorded);

}  // namespace graft::cli
