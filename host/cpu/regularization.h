#pragma once
// The CPU backend's regularization (host/model/regularization.h): the L1/L2
// penalty of the current weights for the batch's loss, its gradient added to
// the trained parameters' gradients before clipping and the update, and
// max-norm (tf.clip_by_norm along axis 1 or 0 of a kernel) after the
// update. The scalar rules are host/math/regularization_math.h, shared with
// cuda/regularization.cu; the kernels below are the CPU twins of its kernels.
// Nothing here allocates after configure().
#include <cstdint>
#include <vector>

#include "host/cpu/thread_team.h"
#include "host/model/parameter_layout.h"
#include "host/model/regularization.h"

namespace graft {
struct DenseLayerShape;
}

namespace graft::cpu {

// --- Kernels, one tensor (or part of one) each.

// l1 * sum(|w|) + l2 * sum(w^2) / 2 over w[0, count), summed in double.
double penalty_of(const float* w, int64_t count, float l1, float l2);
// g[i] = g[i] + (l1 * sign(w[i]) + l2 * w[i]).
void add_penalty_gradient(float* g, const float* w, int64_t count, float l1, float l2);
// tf.clip_by_norm(w, clip_norm, axes=1) on rows [0, rows) of a row-major
// [rows, cols] kernel: each row on its own.
void clip_rows_by_norm(float* w, int64_t rows, int64_t cols, float clip_norm);
// axes=0: columns [0, cols) of a kernel with `rows` rows and row stride
// `stride` (w points at the first of those columns); sums: scratch of cols doubles.
void clip_columns_by_norm(float* w, int64_t rows, int64_t cols, int64_t stride, float clip_norm, double* sums);

// --- What the backend's step calls.
class StepRegularizer {
 public:
  // per_param: one per parameter of `layout` (an empty vector: none).
  // Throws graft::Error for a list of the wrong size or a max-norm on a bias.
  void configure(const ParameterLayout& layout, const std::vector<DenseLayerShape>& layers,
                 const std::vector<ParamRegularizer>& per_param);

  bool penalizes() const { return !chunks_.empty(); }
  bool clips_by_norm() const { return clips_; }
  const ParamRegularizer& of(int index) const { return params_[static_cast<std::size_t>(index)]; }

  // The penalty of every penalized parameter of the flat buffer `params`,
  // frozen ones included (they are constants of TF's total loss).
  double penalty(const float* params, ThreadTeam& team);
  // Elements [begin, end) of parameter `index`'s gradient get its penalty's
  // gradient (nothing when it has none).
  void add_gradient(int index, const float* params, float* grads, int64_t begin, int64_t end) const;
  // Max-norm of kernel `index` after its update (nothing when it has none).
  void clip_kernel(int index, float* params, ThreadTeam& team);

 private:
  struct Chunk {
    int64_t offset, count;
    float l1, l2;
  };
  struct Shape {
    int64_t offset = 0, rows = 0, cols = 0;
  };
  std::vector<ParamRegularizer> params_;
  std::vector<Shape> shapes_;     // per parameter: its offset; a clipped kernel's [rows, cols]
  std::vector<Chunk> chunks_;     // every penalized parameter, in chunks of kPenaltyChunkElems
  std::vector<double> partials_;  // one per chunk
  std::vector<double> column_sums_;  // widest kernel's columns
  bool clips_ = false;
};

}  // namespace graft::cpu
