#include "host/cpu/regularization.h"

#include <algorithm>
#include <string>

#include "checkpoint/error.h"
#include "host/backend.h"
#include "host/math/regularization_math.h"

namespace graft::cpu {
namespace {

// Below this many elements a pass stays on one thread.
constexpr int64_t kParallelElements = 1 << 15;

}  // namespace

double penalty_of(const float* w, int64_t count, float l1, float l2) {
  double sum_abs = 0.0, sum_half_squares = 0.0;
  for (int64_t i = 0; i < count; ++i) {
    sum_abs += math::l1_term(w[i]);
    sum_half_squares += math::l2_term(w[i]);
  }
  return math::penalty(l1, sum_abs, l2, sum_half_squares);
}

void add_penalty_gradient(float* g, const float* w, int64_t count, float l1, float l2) {
  for (int64_t i = 0; i < count; ++i) g[i] = math::regularized_gradient(g[i], w[i], l1, l2);
}

void clip_rows_by_norm(float* w, int64_t rows, int64_t cols, float clip_norm) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = w + r * cols;
    double sum = 0.0;
    for (int64_t c = 0; c < cols; ++c) sum += static_cast<double>(row[c]) * row[c];
    const float divisor = math::clip_by_norm_divisor(static_cast<float>(sum), clip_norm);
    for (int64_t c = 0; c < cols; ++c) row[c] = math::clip_by_norm_element(row[c], clip_norm, divisor);
  }
}

void clip_columns_by_norm(float* w, int64_t rows, int64_t cols, int64_t stride, float clip_norm, double* sums) {
  std::fill(sums, sums + cols, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = w + r * stride;
    for (int64_t c = 0; c < cols; ++c) sums[c] += static_cast<double>(row[c]) * row[c];
  }
  // The divisors replace the sums (each is read once per row below).
  for (int64_t c = 0; c < cols; ++c) sums[c] = math::clip_by_norm_divisor(static_cast<float>(sums[c]), clip_norm);
  for (int64_t r = 0; r < rows; ++r) {
    float* row = w + r * stride;
    for (int64_t c = 0; c < cols; ++c) {
      row[c] = math::clip_by_norm_element(row[c], clip_norm, static_cast<float>(sums[c]));
    }
  }
}

void StepRegularizer::configure(const ParameterLayout& layout, const std::vector<DenseLayerShape>& layers,
                                const std::vector<ParamRegularizer>& per_param) {
  if (!per_param.empty() && static_cast<int>(per_param.size()) != layout.size()) {
    throw Error("cpu backend: set_regularization: " + std::to_string(per_param.size()) +
                " regularizers for " + std::to_string(layout.size()) + " parameters");
  }
  params_ = per_param;
  params_.resize(static_cast<std::size_t>(layout.size()));
  shapes_.assign(params_.size(), Shape{});
  chunks_.clear();
  clips_ = false;
  int64_t widest = 0;
  for (int i = 0; i < layout.size(); ++i) {
    const ParamRegularizer& r = params_[static_cast<std::size_t>(i)];
    const ParamSlot& p = layout[i];
    shapes_[static_cast<std::size_t>(i)].offset = p.offset;
    if (r.max_norm > 0) {
      if (p.role != ParamRole::kKernel) {
        throw Error("cpu backend: set_regularization: max-norm on parameter " + std::to_string(i) +
                    ", which is not a kernel");
      }
      const DenseLayerShape& s = layers.at(static_cast<std::size_t>(p.node));
      shapes_[static_cast<std::size_t>(i)] = Shape{p.offset, s.fan_in, s.fan_out};
      widest = std::max(widest, s.fan_out);
      clips_ = true;
    }
    if (!r.penalizes()) continue;
    for (int64_t done = 0; done < p.count; done += math::kPenaltyChunkElems) {
      chunks_.push_back({p.offset + done, std::min<int64_t>(math::kPenaltyChunkElems, p.count - done), r.l1, r.l2});
    }
  }
  partials_.assign(chunks_.size(), 0.0);
  column_sums_.assign(static_cast<std::size_t>(widest), 0.0);
}

double StepRegularizer::penalty(const float* params, ThreadTeam& team) {
  const int64_t n = static_cast<int64_t>(chunks_.size());
  auto sum_chunks = [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      const Chunk& c = chunks_[static_cast<std::size_t>(k)];
      partials_[static_cast<std::size_t>(k)] = penalty_of(params + c.offset, c.count, c.l1, c.l2);
    }
  };
  if (team.size() > 1 && n * math::kPenaltyChunkElems >= kParallelElements) {
    team.run([&](int part, int parts) {
      const Range r = split_range(n, part, parts);
      sum_chunks(r.begin, r.end);
    });
  } else {
    sum_chunks(0, n);
  }
  double total = 0.0;
  for (double p : partials_) total += p;  // in chunk order: the same for any number of threads
  return total;
}

void StepRegularizer::add_gradient(int index, const float* params, float* grads, int64_t begin, int64_t end) const {
  const ParamRegularizer& r = of(index);
  if (!r.penalizes()) return;
  const int64_t offset = shapes_[static_cast<std::size_t>(index)].offset;
  add_penalty_gradient(grads + offset + begin, params + offset + begin, end - begin, r.l1, r.l2);
}

void StepRegularizer::clip_kernel(int index, float* params, ThreadTeam& team) {
  const ParamRegularizer& r = of(index);
  if (!(r.max_norm > 0)) return;
  const Shape& s = shapes_[static_cast<std::size_t>(index)];
  float* w = params + s.offset;
  const bool parallel = team.size() > 1 && s.rows * s.cols >= kParallelElements;
  if (r.max_norm_axis == 1) {
    if (!parallel) return clip_rows_by_norm(w, s.rows, s.cols, r.max_norm);
    team.run([&](int part, int parts) {
      const Range rows = split_range(s.rows, part, parts);
      clip_rows_by_norm(w + rows.begin * s.cols, rows.size(), s.cols, r.max_norm);
    });
    return;
  }
  if (!parallel) return clip_columns_by_norm(w, s.rows, s.cols, s.cols, r.max_norm, column_sums_.data());
  team.run([&](int part, int parts) {
    const Range cols = split_range(s.cols, part, parts, 16);
    clip_columns_by_norm(w + cols.begin, s.rows, cols.size(), s.cols, r.max_norm, column_sums_.data() + cols.begin);
  });
}

}  // namespace graft::cpu
