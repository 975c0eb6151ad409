#pragma once
// Per-row predictions of a network read from a checkpoint, on the CPU
// (the reference backend's GEMM, bias+activation and batch-norm kernels, so
// the logits are the ones graft eval scores on the CPU), or on a backend
// (a GPU): softmax probabilities over every output and the top output of
// each row. The backends' evaluate()
// returns only totals; per-row results need the rows back on the host.
#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "host/backend.h"
#include "host/model/model_description.h"
#include "host/restore/checkpoint_layers.h"

namespace graft {

struct RowPredictions {
  int64_t rows = 0;
  int64_t outputs = 0;
  std::vector<float> probabilities;  // [rows, outputs], softmax of the logits
  std::vector<int32_t> predicted;    // [rows] the output with the largest logit (the first, on ties)
};

// features: [rows, model.spec.inputs()] already transformed as the model's
// input says (host/data/file_dataset.h apply_input_transform). Processes
// rows in batches of `batch` to bound memory.
RowPredictions predict_rows(const BundleReader& reader, const CheckpointModel& model, const float* features,
                            int64_t rows, int64_t batch = 4096);

// The same on a backend already built with the model's nodes
// (model.spec.backend_shapes()) and loaded with its weights
// (load_checkpoint_weights): its eval-mode logits (Backend::predict_logits,
// so on a GPU the rows run there), then the softmax and argmax above. The
// reader form stays the CPU reference; the commands use this one when a GPU
// was chosen.
// outputs: the last node's width (model.spec.outputs()).
RowPredictions predict_rows(Backend& backend, const float* features, int64_t rows, int64_t cols, int64_t outputs);

// The k most probable outputs of row r, most probable first (ties: lower output first).
std::vector<int32_t> top_outputs(const RowPredictions& p, int64_t r, int k);

// What each output stands for, for column names and messages: the class
// name (class_names[label]) where known, else the original label, else
// "unused<i>" for an output no class was trained on. `labels` empty: output i
// stands for label i.
std::vector<std::string> output_names(int64_t outputs, const std::vector<int>& labels,
                                      const std::vector<std::string>& class_names);

}  // namespace graft
