#include "tools/graft/data_flags.h"

#include <cmath>
#include <filesystem>

#include "checkpoint/error.h"
#include "host/train/frozen_cache.h"

namespace graft::cli {

void add_data_flags(CLI::App* sub, DataFlags& f, DataUse use) {
  sub->add_option("--labels", f.labels, "Labels of a features-only --data file: an integer .npy [N] or IDX file");
  sub->add_option("--label-column", f.label_column,
                  "CSV: the label column, by header name or 0-based index (default: the column named 'label')");
  sub->add_option("--max-data-memory", f.max_memory,
                  "Refuse data files needing more memory than this, e.g. 2G or 512M (default 8G)");
  sub->add_option("--input-scale", f.input_scale,
                  use == DataUse::kTrain
                      ? "Inputs are the raw values x SCALE (recorded in the model; default 1/255 for unsigned-byte "
                        ".npy/IDX data, else 1), e.g. 0.00392156862745098 for 0-255 pixels in a CSV"
                      : "For checkpoints that do not record their input: raw values x SCALE (default 1/255 for "
                        "unsigned bytes, else 1)");
  if (use == DataUse::kPredict) return;
  sub->add_option("--test-data", f.test_data, "A data file for the test split (its x_test part, or all its rows)");
  sub->add_option("--test-split", f.test_split,
                  "Carve this fraction of each class of --data FILE out as the test split (stratified, by --seed)");
  if (use == DataUse::kEval) return;
  sub->add_option("--validation-data", f.validation_data, "A data file for the validation split");

  sub->add_option("--validation-split", f.validation_split,
                  "Carve this fraction of each class of --data FILE out for validation (stratified, by --seed)");
}

// A missing path goes the folder way, whose error says the folder is missing.
bool is_data_file(const std::string& data) {
  return std::filesystem::exists(data) && !std::filesystem::is_directory(data);
}

void check_folder_flags(const std::string& data, const DataFlags& f) {
  const char* given = !f.labels.empty()            ? "--labels"
                      : !f.label_column.empty()    ? "--label-column"
                      : !f.test_data.empty()       ? "--test-data"
                      : !f.validation_data.empty() ? "--validation-data"
                      : f.test_split > 0           ? "--test-split"
                      : f.validation_split > 0     ? "--validation-split"
                      : f.input_scale              ? "--input-scale"
                                                   : nullptr;
  if (given) {
    throw Error(std::string(given) + " is for --data FILE; " + data +
                " is an IDX folder (its test split is its t10k files, validation the first --validation rows)");
  }
}

FileDatasetOptions file_options(const std::string& data, const DataFlags& f, const DatasetOptions& selection,
                                uint64_t seed, const std::optional<ModelDescription>& recorded) {
  FileDatasetOptions o;
  o.data = data;
  o.test_data = f.test_data;
  o.validation_data = f.validation_data;
  o.split.test = f.test_split;
  o.split.validation = f.validation_split;
  o.split.seed = seed;
  o.file.labels = f.labels;
  o.file.csv.label_column = f.label_column;
  o.file.csv.require_label = true;
  if (!f.max_memory.empty()) o.file.limits.max_bytes = parse_byte_size(f.max_memory);
  o.classes = selection.classes;
  o.relabel_to = selection.relabel_to;
  o.per_class = selection.per_class;
  o.load_train = selection.load_train;
  if (f.input_scale) {
    if (recorded) throw Error("--input-scale contradicts the model recorded in the checkpoint: leave it out");
    if (!(*f.input_scale > 0) || !std::isfinite(*f.input_scale)) throw Error("--input-scale must be positive");
    o.scale = f.input_scale;
  }
  if (recorded) {
    o.input = recorded->input;
    o.file.csv.class_names = recorded->output.class_names;
    if (f.label_column.empty()) o.file.csv.label_column = recorded->output.label_column;
  }
  return o;
}

}  // namespace graft::cli
