#pragma once
// Writing per-row predictions (host/predict/predictions.h), one row per
// input row in input order:
//   CSV: a column `label` with the predicted class (its name where the
//        model records names, else its original label), then `p_<class>`
//        for every output; with top_k > 0, instead: label, p_label, then
//        label_2, p_label_2 ... label_K, p_label_K. Probabilities printed
//        with 9 significant digits (they read back as the same float32).
//   .npy: the probabilities, float32 [rows, outputs], in output order.
//   .npz: `label` (int32 original labels, -1 for an unused output) and
//        `probabilities`.
#include <ostream>
#include <string>
#include <vector>

#include "host/predict/predictions.h"

namespace graft {

struct PredictionNames {
  std::vector<std::string> outputs;  // output_names()
  std::vector<int> labels;           // original label of each output (kNoClass: none)
};

void write_predictions_csv(std::ostream& out, const RowPredictions& p, const PredictionNames& names, int top_k = 0);

// By the name's extension: .csv, .npy or .npz. Throws graft::Error naming
// the file when it cannot be written or the extension is none of these.
void write_predictions(const std::string& path, const RowPredictions& p, const PredictionNames& names, int top_k = 0);

}  // namespace graft
