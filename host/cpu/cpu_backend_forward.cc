// The CPU backend's forward passes: by row blocks (large batches, inference
// forms) or by GEMM output columns (small batches, training-form nodes), the
// loss, and the calls built on them: forward_prefix, predict_logits, evaluate.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>

#include "checkpoint/error.h"
#include "host/backend.h"
#include "host/cpu/cpu_backend_internal.h"
#include "host/cpu/cpu_dataset.h"
#include "host/cpu/float_mode.h"
#include "host/cpu/node_ops.h"
#include "host/cpu/reference_kernels.h"
#include "host/cpu/sgemm.h"
#include "host/cpu/thread_team.h"
#include "host/step_plan.h"

namespace graft::cpu_backend_detail {

// `rows` rows of x (inputs of node 0) through nodes [0, k) in inference
// form, in batches of max_batch_; node k - 1's outputs into `out`.
void CpuBackend::inference_rows(const float* x, int64_t rows, int64_t cols, int k, float* out) {
  const int64_t out_cols = layers_[k - 1].fan_out;
  for (int64_t start = 0; start < rows; start += max_batch_) {
    const int64_t n = std::min(max_batch_, rows - start);
    const float* in = x + start * cols;
    float* dst = out + start * out_cols;
    run_row_blocks(n, [&](Range r, int64_t) { forward_rows(in, 0, k, r, dst); });
  }
}

// Rows r of `input` (row stride = layer `first`'s fan_in) through layers
// [first, last): layer l's outputs land in act_[l] (same row numbers),
// the last one's in `last_out` instead when given.
void CpuBackend::forward_rows(const float* input, int first, int last, Range r, float* last_out) {
  const float* in = input + r.begin * layers_[first].fan_in;
  for (int l = first; l < last; ++l) {
    const DenseLayerShape& s = layers_[l];
    float* out = (l == last - 1 && last_out ? last_out : act_[l].data()) + r.begin * s.fan_out;
    if (s.kind != NodeKind::kDense) {
      other_node_forward(l, in, out, r.size(), /*train=*/false);  // inference forms are per row
      in = out;
      continue;
    }
    gemm(false, false, r.size(), s.fan_out, s.fan_in, in, s.fan_in, params_[layout_.kernel(l)].data(), s.fan_out, out,
         s.fan_out);
    cpu::bias_activation_forward(out, params_[layout_.bias(l)].data(), r.size(), s.fan_out, s.activation);
    in = out;
  }
}

// A training step's small batch, and any step with a training-form node:
// each layer's GEMM split between the team (below kRowSplitRows rows: by
// kernel rows, partial products summed; otherwise by output columns), the
// epilogue on the calling thread.
// Outputs in act_. plan: the forms of batch norm and dropout (null: inference).
void CpuBackend::forward_columns(const float* input, int first, int64_t n, const StepPlan* plan) {
  const float* in = input;
  for (int l = first; l < static_cast<int>(layers_.size()); ++l) {
    const DenseLayerShape& s = layers_[l];
    float* out = act_[l].data();
    if (s.kind != NodeKind::kDense) {
      other_node_forward(l, in, out, n, plan && plan->forward[static_cast<std::size_t>(l - first)].train);
      in = out;
      continue;
    }
    const float* w = params_[layout_.kernel(l)].data();
    const bool parallel = team_.size() > 1 && 2.0 * n * s.fan_in * s.fan_out >= kParallelGemmFlops;
    if (parallel && n < kRowSplitRows) {
      // Split by kernel rows, as the backward pass splits the weight gradient
      // and the update: each thread reads the rows it wrote last step, from
      // its own cache. Part p's product over its rows goes to out (p = 0) or
      // forward_partial_[p - 1]; the parts are summed in part order.
      team_.run([&](int part, int parts) {
        const Range k = split_range(s.fan_in, part, parts, 16);
        float* dst = part == 0 ? out : forward_partial_[static_cast<std::size_t>(part - 1)].data();
        if (k.size() == 0) {
          std::fill(dst, dst + n * s.fan_out, 0.0f);
          return;
        }
        gemm(false, false, n, s.fan_out, k.size(), in + k.begin, s.fan_in, w + k.begin * s.fan_out, s.fan_out, dst,
             s.fan_out);
      });
      for (const AlignedBuffer& partial : forward_partial_) {
        const float* p = partial.data();
        for (int64_t i = 0; i < n * s.fan_out; ++i) out[i] += p[i];
      }
    } else if (parallel) {
      team_.run([&](int part, int parts) {
        const Range c = split_range(s.fan_out, part, parts, 16);
        gemm(false, false, n, c.size(), s.fan_in, in, s.fan_in, w + c.begin, s.fan_out, out + c.begin,
             s.fan_out);
      });
    } else {
      gemm(false, false, n, s.fan_out, s.fan_in, in, s.fan_in, w, s.fan_out, out, s.fan_out);
    }
    cpu::bias_activation_forward(out, params_[layout_.bias(l)].data(), n, s.fan_out, s.activation);
    in = out;
  }
}

// Forward pass and softmax cross-entropy over n rows of `input` (inputs of
// layer `first`); dlogits (may be null) gets the mean-loss gradient.
void CpuBackend::forward_loss(const float* input, const int32_t* labels, int first, int64_t n, float* dlogits,
                              double* loss_sum, int64_t* correct, const StepPlan* plan) {
  const int last = static_cast<int>(layers_.size()) - 1;
  const int64_t classes = layers_[last].fan_out;
  const float grad_scale = 1.0f / static_cast<float>(n);
  for (auto& t : part_totals_) t = PartTotals{};
  auto loss_rows = [&](Range r, PartTotals& t) {
    cpu::softmax_xent(act_[last].data() + r.begin * classes, labels + r.begin,
                      dlogits ? dlogits + r.begin * classes : nullptr, r.size(), classes, grad_scale, &t.loss,
                      &t.correct);
  };
  bool whole_batch = false;  // a training-form node needs the whole batch at once
  for (std::size_t i = 0; plan && i < plan->forward.size(); ++i) whole_batch = whole_batch || plan->forward[i].train;
  // An evaluation (no dlogits) runs fixed row blocks, each on one thread, and
  // sums their totals in block order: splitting a GEMM by columns or kernel
  // rows changes its summation order (libxsmm's kernels differ by width), a
  // split by thread count changes where each row falls in its GEMM (which
  // OpenBLAS's kernels round by), and evaluation must give the same bits on
  // any number of threads (graft eval reproduces the test loss training
  // printed).
  if (!whole_batch && dlogits == nullptr) {
    run_row_blocks(n, [&](Range r, int64_t block) {
      forward_rows(input, first, last + 1, r);
      PartTotals& t = block_totals_[static_cast<std::size_t>(block)];
      t = PartTotals{};
      loss_rows(r, t);
    });
    for (int64_t b = 0; b < row_block_count(n); ++b) {
      *loss_sum += block_totals_[static_cast<std::size_t>(b)].loss;
      *correct += block_totals_[static_cast<std::size_t>(b)].correct;
    }
    return;
  }
  if (!whole_batch && team_.size() > 1 && n >= kRowSplitRows) {
    run_rows(n, [&](Range r, int part) {
      forward_rows(input, first, last + 1, r);
      loss_rows(r, part_totals_[part]);
    });
  } else {
    forward_columns(input, first, n, plan);
    if (whole_batch && team_.size() > 1 && n >= kRowSplitRows) {
      run_rows(n, [&](Range r, int part) { loss_rows(r, part_totals_[part]); });
    } else {
      loss_rows(Range{0, n}, part_totals_[0]);
    }
  }
  for (const auto& t : part_totals_) {
    *loss_sum += t.loss;
    *correct += t.correct;
  }
}

// A batch-norm or dropout node over n rows of `in` (its input) into `out`.
void CpuBackend::other_node_forward(int l, const float* in, float* out, int64_t n, bool train) {
  const DenseLayerShape& s = layers_[l];
  if (s.kind == NodeKind::kBatchNorm) {
    cpu::batch_norm_forward(in, out, n, s, train, bn_tensors(l));
  } else {
    cpu::dropout_forward(in, out, n, s, train, dropout_seed(), static_cast<uint64_t>(scalars_.step),
                         static_cast<uint32_t>(l));
  }
}

std::unique_ptr<DeviceDataset> CpuBackend::forward_prefix(const DeviceDataset& data, int k) {
  require_built();
  const cpu::ScopedFlushDenormals tf_float_mode;
  const CpuDataset& src = as_cpu(data);
  if (k < 0 || k > static_cast<int>(layers_.size())) {
    throw Error("cpu backend: forward_prefix through " + std::to_string(k) + " layers of " +
                std::to_string(layers_.size()));
  }
  check_input_cols(src, 0, "forward_prefix");
  const int64_t out_cols = k == 0 ? src.cols() : layers_[k - 1].fan_out;
  auto out = std::make_unique<CpuDataset>(src.rows(), out_cols);
  out->labels = src.labels;
  out->order = src.order;
  if (k == 0) {
    std::copy(src.features.data(), src.features.data() + src.rows() * src.cols(), out->features.data());
    return out;
  }
  inference_rows(src.features.data(), src.rows(), src.cols(), k, out->features.data());
  return out;
}

// Eval-mode logits: forward_prefix's inference pass through every node,
// straight from the caller's rows into the caller's buffer.
void CpuBackend::predict_logits(const float* features, int64_t rows, int64_t cols, float* logits) {
  require_built();
  const cpu::ScopedFlushDenormals tf_float_mode;
  if (rows < 0 || cols != layers_[0].fan_in) {
    throw Error("cpu backend: predict_logits on " + std::to_string(rows) + " rows of " + std::to_string(cols) +
                " columns, but layer 0 takes " + std::to_string(layers_[0].fan_in) + " inputs");
  }
  inference_rows(features, rows, cols, static_cast<int>(layers_.size()), logits);
}

EpochTotals CpuBackend::evaluate(const DeviceDataset& data, int first_layer) {
  require_built();
  const cpu::ScopedFlushDenormals tf_float_mode;
  const CpuDataset& d = as_cpu(data);
  check_input_cols(d, first_layer, "evaluate");
  EpochTotals totals;
  for (int64_t start = 0; start < d.rows(); start += max_batch_) {
    const int64_t n = std::min(max_batch_, d.rows() - start);
    forward_loss(d.features.data() + start * d.cols(), d.labels.data() + start, first_layer, n, nullptr,
                 &totals.loss_sum, &totals.correct);
    totals.samples += n;
  }
  return totals;
}

}  // namespace graft::cpu_backend_detail
