#pragma once
// graft's evaluation as one library call: the network a checkpoint holds
// (host/restore/checkpoint_model_resolution.h), scored on a test split with
// each class matched to the output that stands for it, on the backend asked
// for. The CLI's `graft eval` maps its flags to an EvalJob and prints the
// result; a C++ program does the same without the CLI.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cuda/cuda_backend_options.h"
#include "host/data/file_dataset.h"
#include "host/predict/class_report.h"
#include "host/restore/checkpoint_model_resolution.h"

namespace graft {

struct EvalJob {
  std::string checkpoint;      // prefix, one of its files, or a folder with a `checkpoint` state file
  CheckpointModelQuery model;  // activation, layers, renames (for checkpoints that record nothing)
  // The data: an MNIST-style IDX folder's t10k files, unless data_file is
  // set (a data file's test part, its split or all its rows). The job fills
  // in the class selection and, from a recorded model, the input transform
  // and class names.
  std::string data_dir;
  std::optional<FileDatasetOptions> data_file;
  // Evaluate on these original labels only (empty: every class the model
  // was trained on, or every label when that is not recorded).
  std::vector<int> classes;
  std::string device = "auto";  // cpu, cuda or auto
  int threads = 0;
  std::optional<CudaBackendOptions> cuda;
  bool per_class = false;       // per-class precision/recall and the confusion matrix (per-row, on the CPU)
};

struct EvalJobResult {
  std::string prefix;             // the checkpoint prefix evaluated
  std::string resolution_note;    // how the prefix was found (from a `checkpoint` file), or empty
  ResolvedCheckpointModel model;  // what was evaluated, and where it came from
  std::vector<int> output_labels; // original label of each output (kNoClass: none); empty when unknown
  std::vector<std::string> notes; // what was read or assumed, in words (the resolution's, the scoring's, the data's)
  std::string device_note;        // "device: cpu (OpenBLAS ..., 2 threads)"
  std::string device;             // the backend's description
  int64_t samples = 0, correct = 0;
  double accuracy = 0.0, loss = 0.0;
  std::optional<ClassReport> per_class;
};

// Throws graft::Error: the checkpoint's and resolution's errors, classes the
// model was not trained on, data that does not fit the model. Errors name
// the job's fields through model.option_name ("classes", "input_scale").
EvalJobResult run_eval_job(const EvalJob& job);

}  // namespace graft
