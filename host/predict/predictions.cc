#include "host/predict/predictions.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

#include "checkpoint/error.h"
#include "host/cpu/batch_norm_kernels.h"
#include "host/cpu/reference_kernels.h"
#include "host/restore/checked_read.h"
#include "host/cpu/sgemm.h"

namespace graft {
namespace {

// Rows [begin, begin + n) of out from their logits [n, outputs]: a stable
// softmax in double; the argmax is taken on the logits.
void fill_predictions(const float* logits_rows, int64_t begin, int64_t n, RowPredictions& out) {
  for (int64_t r = 0; r < n; ++r) {
    const float* logits = logits_rows + r * out.outputs;
    const int64_t best = std::max_element(logits, logits + out.outputs) - logits;
    out.predicted[static_cast<std::size_t>(begin + r)] = static_cast<int32_t>(best);
    double sum = 0;
    for (int64_t c = 0; c < out.outputs; ++c) sum += std::exp(static_cast<double>(logits[c]) - logits[best]);
    float* p = out.probabilities.data() + (begin + r) * out.outputs;
    for (int64_t c = 0; c < out.outputs; ++c) {
      p[c] = static_cast<float>(std::exp(static_cast<double>(logits[c]) - logits[best]) / sum);
    }
  }
}

}  // namespace

RowPredictions predict_rows(const BundleReader& reader, const CheckpointModel& model, const float* features,
                            int64_t rows, int64_t batch) {
  const std::size_t layers = model.layers.size();
  std::vector<std::vector<float>> kernels(layers), biases(layers);
  // Batch norm: gamma, beta, moving mean, moving variance (empty: no gamma / no beta).
  std::vector<std::array<std::vector<float>, 4>> norms(layers);
  for (std::size_t l = 0; l < layers; ++l) {
    const CheckpointDenseLayer& c = model.layers[l];
    if (c.kind == NodeKind::kBatchNorm) {
      const char* leaves[4] = {"gamma", "beta", "moving_mean", "moving_variance"};
      for (int k = 0; k < 4; ++k) {
        const auto it = c.leaf_keys.find(leaves[k]);
        if (it == c.leaf_keys.end()) continue;
        const BundleEntry* e = reader.find(it->second);
        if (!e) throw Error(reader.prefix() + ": layer " + c.name + " is not in this checkpoint");
        norms[l][static_cast<std::size_t>(k)] = read_checked_float(reader, *e);
      }
    }
    if (c.kind != NodeKind::kDense) continue;
    const BundleEntry* kernel = reader.find(c.kernel_key);
    const BundleEntry* bias = reader.find(c.bias_key);
    if (!kernel || !bias) throw Error(reader.prefix() + ": layer " + c.name + " is not in this checkpoint");
    kernels[l] = reader.read_float(*kernel);
    biases[l] = reader.read_float(*bias);
  }
  RowPredictions out;
  out.rows = rows;
  out.outputs = model.spec.outputs();
  out.probabilities.resize(static_cast<std::size_t>(rows * out.outputs));
  out.predicted.resize(static_cast<std::size_t>(rows));
  std::vector<float> a, b;
  for (int64_t begin = 0; begin < rows; begin += batch) {
    const int64_t n = std::min(batch, rows - begin);
    const float* x = features + begin * model.spec.inputs();
    for (std::size_t l = 0; l < layers; ++l) {
      const LayerSpec& spec = model.spec.layers[l];
      if (spec.kind == NodeKind::kDropout) continue;  // the identity in inference
      b.resize(static_cast<std::size_t>(n * spec.fan_out));
      if (spec.kind == NodeKind::kBatchNorm) {
        const auto& v = norms[l];
        cpu::batch_norm_forward_infer(x, n, spec.fan_out, v[0].empty() ? nullptr : v[0].data(),
                                      v[1].empty() ? nullptr : v[1].data(), v[2].data(), v[3].data(),
                                      spec.batch_norm.epsilon, spec.activation, b.data());
        std::swap(a, b);
        x = a.data();
        continue;
      }
      cpu::gemm(false, false, n, spec.fan_out, spec.fan_in, x, spec.fan_in, kernels[l].data(), spec.fan_out, b.data(),
                spec.fan_out);
      cpu::bias_activation_forward(b.data(), biases[l].data(), n, spec.fan_out, spec.activation);
      std::swap(a, b);
      x = a.data();
    }
    fill_predictions(x, begin, n, out);
  }
  return out;
}

RowPredictions predict_rows(Backend& backend, const float* features, int64_t rows, int64_t cols, int64_t outputs) {
  if (rows < 0 || outputs <= 0) {
    throw Error("predict_rows: " + std::to_string(rows) + " rows, " + std::to_string(outputs) + " outputs");
  }
  RowPredictions out;
  out.rows = rows;
  out.outputs = outputs;
  out.probabilities.resize(static_cast<std::size_t>(rows * outputs));
  out.predicted.resize(static_cast<std::size_t>(rows));
  if (rows == 0) return out;
  // The logits land in the probabilities' memory ([rows, outputs] both),
  // each row turned into its probabilities from a copy of its logits.
  backend.predict_logits(features, rows, cols, out.probabilities.data());
  std::vector<float> row(static_cast<std::size_t>(outputs));
  for (int64_t r = 0; r < rows; ++r) {
    float* p = out.probabilities.data() + r * outputs;
    std::copy(p, p + outputs, row.begin());
    fill_predictions(row.data(), r, 1, out);
  }
  return out;
}

std::vector<int32_t> top_outputs(const RowPredictions& p, int64_t r, int k) {
  std::vector<int32_t> order(static_cast<std::size_t>(p.outputs));
  std::iota(order.begin(), order.end(), 0);
  const float* row = p.probabilities.data() + r * p.outputs;
  const auto kk = static_cast<std::size_t>(std::min<int64_t>(k, p.outputs));
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(kk), order.end(),
                    [&](int32_t x, int32_t y) { return row[x] > row[y] || (row[x] == row[y] && x < y); });
  order.resize(kk);
  // The top output is the logits' argmax, also when probabilities round equal.
  if (kk > 0 && order[0] != p.predicted[static_cast<std::size_t>(r)]) {
    const auto it = std::find(order.begin(), order.end(), p.predicted[static_cast<std::size_t>(r)]);
    if (it != order.end()) order.erase(it);
    else order.pop_back();
    order.insert(order.begin(), p.predicted[static_cast<std::size_t>(r)]);
  }
  return order;
}

std::vector<std::string> output_names(int64_t outputs, const std::vector<int>& labels,
                                      const std::vector<std::string>& class_names) {
  std::vector<std::string> names;
  for (int64_t i = 0; i < outputs; ++i) {
    const int label = labels.empty() ? static_cast<int>(i) : labels[static_cast<std::size_t>(i)];
    if (label == kNoClass) {
      names.push_back("unused" + std::to_string(i));
    } else if (label >= 0 && static_cast<std::size_t>(label) < class_names.size()) {
      names.push_back(class_names[static_cast<std::size_t>(label)]);
    } else {
      names.push_back(std::to_string(label));
    }
  }
  return names;
}

}  // namespace graft
