#pragma once
// The fused training step: one whole SGD-family step of a dense network as
// a fixed sequence of *phases* separated by grid-wide barriers, so that a
// small-batch step is one cooperative kernel launch instead of ~35 dependent
// kernels (docs/cuda-backend.md, "Fused step").
//
// Over 500 lines on purpose: the kernel and its CPU emulator must compile the
// very same text, and the phases only make sense read in order.
//
// This header is the algorithm, shared verbatim by two drivers:
//   cuda/fused_step.cu         the cooperative kernel (grid.sync() between
//                              phases, __syncthreads() between substeps);
//   tests/fused/emulator.cc    a CPU driver that runs the same functions
//                              block by block, thread by thread, so every CI
//                              run checks the algorithm against the CPU
//                              reference backend even without a GPU.
// Hence the rules for code here: plain C++ plus fmaf/expf/logf/tanhf/sqrtf;
// no warp intrinsics; no state carried in registers across a barrier (a
// substep ends at a barrier and passes data on through shared or global
// memory only); every task or item of a phase writes memory that no other
// task or item of the same phase reads, so the order they run in cannot
// matter.
//
// Two schedules (plan.h picks one), for local layers 0..L-1 (layer 0 reads
// the gathered batch) and lo = the lowest layer with a trainable parameter:
//
// Row-local (3 phases, 2 grid barriers; narrow layers above the first, as in
// the reference 784-300-50-50-50-50-10 network):
//   A  F_0 across the whole grid: out_0 = act(in . W_0 + b_0)
//   R  one task per group of batch rows, entirely inside one block: F_1 ..
//      F_{L-1}, softmax cross-entropy, then dz_{l-1} = (dz_l . W_l^T) *
//      act'(out_{l-1}) down to dz_lo. Rows are independent in all of these,
//      so a block needs no other block's results.
//   U  updates of layers lo .. L-1
// Per-layer (2L phases; any widths):
//   F_0 .. F_{L-2}   forward, each across the grid
//   F_{L-1}          logits, softmax cross-entropy, dz_{L-1}
//   B_{L-1} .. B_{lo+1}   dz_{l-1}, and the update of layer l+1, whose W was
//                    last read in B_{l+1}
//   U                updates of layers lo and lo+1
// In both, block 0 adds the loss to the running totals and advances the
// optimizer scalars in the last phase. Weight gradients are never stored: an
// update item computes its gradient element (sum over the batch of
// in[r,k] * dz[r,j]), clips it and applies the rule. Every update runs after
// the last read of its tensor, so gradients come from the step's old weights
// (TensorFlow's semantics).
#include <cmath>
#include <cstdint>

#include "cuda/device_state.h"
#include "host/math/activation_math.h"
#include "host/math/clip_math.h"
#include "host/math/hd.h"
#include "host/math/optimizer_math.h"
#include "host/math/softmax_xent_math.h"
#include "host/model/activation.h"
#include "host/model/optimizer_config.h"

#define GRAFT_FUSED_FN GRAFT_HD inline
#if defined(__CUDACC__)
#define GRAFT_FUSED_UNROLL _Pragma("unroll")
#else
#define GRAFT_FUSED_UNROLL
#endif

namespace graft::cuda::fused {

constexpr int kThreads = 256;       // threads per block
constexpr int kMaxLayers = 16;
constexpr int kMaxPhases = 2 * kMaxLayers + 1;
constexpr int kTileRows = 8;        // batch rows per block task (at most)
constexpr int kHiddenTileCols = 16; // output columns per task of the grid-wide phases
constexpr int kMaxClasses = 256;    // the logits layer's row must fit one task
// Row-local tasks take ceil(n / kRowLocalTasks) rows (at most kTileRows): one
// row per task up to 128 rows. It depends on n only, never on the grid, so
// results do not depend on the grid size.
constexpr int kRowLocalTasks = 128;
// Shared memory, in floats: K-slice partial sums [slices][kTileRows][cols]
// (slices * cols == kThreads), the logits tile [kTileRows][cols], then the
// tile's per-row losses (double) and hits (int).
constexpr int kPartialFloats = kThreads * kTileRows;
constexpr int kLogitsFloats = kTileRows * kMaxClasses;
constexpr int kSmemFloats = kPartialFloats + kLogitsFloats + 2 * kTileRows + kTileRows;

struct Layer {
  float* w = nullptr;  // [fan_in, fan_out] row-major (TF layout)
  float* b = nullptr;  // [fan_out]
  float* w_slot0 = nullptr;  // optimizer slots in the parameters' layout, or null
  float* w_slot1 = nullptr;
  float* b_slot0 = nullptr;
  float* b_slot1 = nullptr;
  float* out = nullptr;  // [n, fan_out] activations (logits for the last layer)
  float* dz = nullptr;   // [n, fan_out] d loss / d pre-activation
  int fan_in = 0;
  int fan_out = 0;
  ActivationKind act = ActivationKind::kIdentity;
  float alpha = 0.0f;
  bool train_w = false;
  bool train_b = false;
};

enum class PhaseKind : int { kForward, kForwardLogits, kInputGrad, kRowLocal, kUpdates };

struct Phase {
  PhaseKind kind = PhaseKind::kUpdates;
  int layer = -1;         // the forward or input-gradient layer (grid-wide phases)
  int update_first = -1;  // layers update_first..update_last are updated in
  int update_last = -2;   // this phase (an empty range by default)
};

struct Batch {
  const float* features = nullptr;  // the data set [rows, cols]
  const int32_t* labels = nullptr;  // [rows]
  const uint32_t* order = nullptr;  // the epoch's permutation
  int64_t begin = 0;                // rows order[begin, begin + n)
  int n = 0;
  int cols = 0;
  int local_rows = 1;               // rows per row-local task
  int loss_tiles = 0;               // row tiles whose loss sums finish_step adds
};

struct Program {
  Layer layers[kMaxLayers];
  int num_layers = 0;
  Phase phases[kMaxPhases];
  int num_phases = 0;
  bool row_local = false;          // which schedule the phases follow
  int lowest = -1;                 // lowest layer with a trainable parameter, -1: none
  math::OptimizerHyper hyper;
  Batch batch;
  double* tile_loss = nullptr;     // [max_batch] loss sums per row tile
  long long* tile_hits = nullptr;  // [max_batch]
  DeviceState* state = nullptr;    // totals and optimizer scalars
};

// Read once at the start of a step, before the first grid barrier; block 0
// writes the advanced values in the last phase.
struct StepScalars {
  float beta1_power = 0.0f;
  float beta2_power = 0.0f;
  float learning_rate = 0.0f;  // DeviceState::learning_rate: this step's, not hyper.lr
};

// ---------------------------------------------------------------------------
// Elementwise math: the activations, clipping and update rules are
// host/math/'s, the same code as the CPU backend and the CUDA kernels.

GRAFT_FUSED_FN bool is_finite(float v) { return v - v == 0.0f; }  // false for inf and NaN

// Clipping by value, then the rule, on element i of w and its slots.
GRAFT_FUSED_FN void apply_update(const math::OptimizerHyper& h, const StepScalars& sc, float g,
                                 float* w, float* s0, float* s1, int64_t i) {
  const float lr_t = h.kind == OptimizerKind::kAdam
                         ? math::adam_lr_t(h, sc.beta1_power, sc.beta2_power)
                         : 0.0f;
  math::update_element(h, lr_t, math::clip_by_value(g, h.clip_value), w, s0, s1, i);
}

// ---------------------------------------------------------------------------
// Block tasks. A task owns `rows` batch rows (at most kTileRows) x `cols`
// output columns of one GEMM-like operation; its kThreads threads split the
// reduction dimension into `slices` parts (slices * cols == kThreads), write
// partial sums to shared memory (a "partials" substep), and reduce them in a
// fixed order after a block barrier (a "reduce" substep), so the result does
// not depend on scheduling.

struct Tile {
  int cols;
  int slices;
};

// Whole rows of `width` columns, up to kThreads columns per chunk.
GRAFT_FUSED_FN Tile wide_tile(int width) {
  int c = kHiddenTileCols;
  while (c < width && c < kThreads) c *= 2;
  return {c, kThreads / c};
}

struct TaskPos {
  Tile tile;
  int r0, rows;  // first batch row, rows in this task
  int c0;        // first output column
  int row_tile;  // index of the task's row group (loss sums)
};

enum class Op : int { kForwardPartials, kForwardReduce, kSoftmax, kLossSum, kInputGradPartials, kInputGradReduce };

// One substep of a task: an operation on a layer and a column chunk.
struct Substep {
  Op op;
  int layer;
  int c0;
};

// Row r of the input of local layer l: the gathered batch row for layer 0.
GRAFT_FUSED_FN const float* input_row(const Program& p, int l, int r) {
  if (l == 0) {
    return p.batch.features + static_cast<int64_t>(p.batch.order[p.batch.begin + r]) * p.batch.cols;
  }
  return p.layers[l - 1].out + static_cast<int64_t>(r) * p.layers[l].fan_in;
}

GRAFT_FUSED_FN int ceil_div(int a, int b) { return (a + b - 1) / b; }

// --- Grid-wide phases: kTileRows x kHiddenTileCols tiles (whole rows for the
// logits phase), one operation each.

GRAFT_FUSED_FN Tile grid_phase_tile(const Program& p, const Phase& ph) {
  if (ph.kind == PhaseKind::kForwardLogits) return wide_tile(p.layers[ph.layer].fan_out);
  return {kHiddenTileCols, kThreads / kHiddenTileCols};
}

// Output columns of a grid-wide phase: fan_out forward, fan_in backward.
GRAFT_FUSED_FN int grid_phase_width(const Program& p, const Phase& ph) {
  const Layer& l = p.layers[ph.layer];
  return ph.kind == PhaseKind::kInputGrad ? l.fan_in : l.fan_out;
}

// --- The row-local phase: a task is local_rows rows through every layer
// above layer 0 and back. Its substeps, in order:
//   for l = 1 .. L-1, for each column chunk of fan_out(l): partials, reduce
//   softmax, loss sum
//   for l = L-1 down to max(lowest + 1, 1), for each chunk of fan_in(l):
//     input-gradient partials, reduce

GRAFT_FUSED_FN int row_local_forward_substeps(const Program& p) {
  int n = 0;
  for (int l = 1; l < p.num_layers; ++l) n += 2 * ceil_div(p.layers[l].fan_out, kThreads);
  return n + 2;
}

GRAFT_FUSED_FN int row_local_lowest_input_grad(const Program& p) {
  return p.lowest + 1 > 1 ? p.lowest + 1 : 1;  // layers l >= this compute dz_{l-1}
}

GRAFT_FUSED_FN int row_local_substeps(const Program& p) {
  int n = row_local_forward_substeps(p);
  if (p.lowest < 0) return n;
  for (int l = p.num_layers - 1; l >= row_local_lowest_input_grad(p); --l) {
    n += 2 * ceil_div(p.layers[l].fan_in, kThreads);
  }
  return n;
}

GRAFT_FUSED_FN Substep row_local_substep(const Program& p, int sub) {
  for (int l = 1; l < p.num_layers; ++l) {
    const int steps = 2 * ceil_div(p.layers[l].fan_out, kThreads);
    if (sub < steps) {
      return {sub % 2 == 0 ? Op::kForwardPartials : Op::kForwardReduce, l, (sub / 2) * kThreads};
    }
    sub -= steps;
  }
  if (sub < 2) return {sub == 0 ? Op::kSoftmax : Op::kLossSum, p.num_layers - 1, 0};
  sub -= 2;
  for (int l = p.num_layers - 1; l >= row_local_lowest_input_grad(p); --l) {
    const int steps = 2 * ceil_div(p.layers[l].fan_in, kThreads);
    if (sub < steps) {
      return {sub % 2 == 0 ? Op::kInputGradPartials : Op::kInputGradReduce, l, (sub / 2) * kThreads};
    }
    sub -= steps;
  }
  return {Op::kLossSum, -1, 0};  // not reached for sub < row_local_substeps(p)
}

// --- Phase shape, for the drivers.

GRAFT_FUSED_FN int phase_tasks(const Program& p, const Phase& ph) {
  switch (ph.kind) {
    case PhaseKind::kUpdates: return 0;
    case PhaseKind::kRowLocal: return ceil_div(p.batch.n, p.batch.local_rows);
    default: {
      const Tile t = grid_phase_tile(p, ph);
      return ceil_div(p.batch.n, kTileRows) * ceil_div(grid_phase_width(p, ph), t.cols);
    }
  }
}

// Barrier-separated substeps of each task of a phase.
GRAFT_FUSED_FN int phase_substeps(const Program& p, const Phase& ph) {
  switch (ph.kind) {
    case PhaseKind::kForward:
    case PhaseKind::kInputGrad: return 2;
    case PhaseKind::kForwardLogits: return 4;
    case PhaseKind::kRowLocal: return row_local_substeps(p);
    case PhaseKind::kUpdates: return 0;
  }
  return 0;
}

namespace detail {

GRAFT_FUSED_FN float* partial_at(float* smem, const Tile& t, int slice, int rr, int c) {
  return smem + (slice * kTileRows + rr) * t.cols + c;
}

// Partial sums for R <= kTileRows rows (R a compile-time constant, so the
// accumulators stay in registers; run_partials picks the smallest of 1, 2,
// 4, 8 that covers the task's rows: a one-row task does an eighth of the
// work of an eight-row one). Rows past the task's repeat its first row;
// their sums are never read.
//
// Forward: thread (slice s, column c), consecutive threads on consecutive
// columns (coalesced W reads), a contiguous K range per slice.
template <int R>
GRAFT_FUSED_FN void forward_partials(const Program& p, int layer, const TaskPos& t, int tid,
                                     float* smem) {
  const Layer& L = p.layers[layer];
  const int c = tid % t.tile.cols;
  const int s = tid / t.tile.cols;
  const int j = t.c0 + c;
  float acc[R];
  GRAFT_FUSED_UNROLL
  for (int rr = 0; rr < R; ++rr) acc[rr] = 0.0f;
  if (j < L.fan_out) {
    const int per_slice = ceil_div(L.fan_in, t.tile.slices);
    const int k_begin = s * per_slice;
    const int k_end = k_begin + per_slice < L.fan_in ? k_begin + per_slice : L.fan_in;
    const float* x[R];
    GRAFT_FUSED_UNROLL
    for (int rr = 0; rr < R; ++rr) x[rr] = input_row(p, layer, t.r0 + (rr < t.rows ? rr : 0));
    for (int k = k_begin; k < k_end; ++k) {
      const float w = L.w[static_cast<int64_t>(k) * L.fan_out + j];
      GRAFT_FUSED_UNROLL
      for (int rr = 0; rr < R; ++rr) acc[rr] = fmaf(x[rr][k], w, acc[rr]);
    }
  }
  GRAFT_FUSED_UNROLL
  for (int rr = 0; rr < R; ++rr) *partial_at(smem, t.tile, s, rr, c) = acc[rr];
}

// Input gradient: thread (slice s, column i) with the slice index fastest,
// so neighbouring threads read neighbouring elements of a W row; slice s
// takes j = s, s + slices, ...
template <int R>
GRAFT_FUSED_FN void input_grad_partials(const Program& p, int layer, const TaskPos& t, int tid,
                                        float* smem) {
  const Layer& L = p.layers[layer];
  const int s = tid % t.tile.slices;
  const int c = tid / t.tile.slices;
  const int i = t.c0 + c;
  float acc[R];
  GRAFT_FUSED_UNROLL
  for (int rr = 0; rr < R; ++rr) acc[rr] = 0.0f;
  if (i < L.fan_in) {
    const float* wrow = L.w + static_cast<int64_t>(i) * L.fan_out;
    const float* dz[R];
    GRAFT_FUSED_UNROLL
    for (int rr = 0; rr < R; ++rr) {
      dz[rr] = L.dz + static_cast<int64_t>(t.r0 + (rr < t.rows ? rr : 0)) * L.fan_out;
    }
    for (int j = s; j < L.fan_out; j += t.tile.slices) {
      const float w = wrow[j];
      GRAFT_FUSED_UNROLL
      for (int rr = 0; rr < R; ++rr) acc[rr] = fmaf(dz[rr][j], w, acc[rr]);
    }
  }
  GRAFT_FUSED_UNROLL
  for (int rr = 0; rr < R; ++rr) *partial_at(smem, t.tile, s, rr, c) = acc[rr];
}

template <int R>
GRAFT_FUSED_FN void partials(const Program& p, bool forward, int layer, const TaskPos& t, int tid,
                             float* smem) {
  if (forward) {
    forward_partials<R>(p, layer, t, tid, smem);
  } else {
    input_grad_partials<R>(p, layer, t, tid, smem);
  }
}

GRAFT_FUSED_FN void run_partials(const Program& p, bool forward, int layer, const TaskPos& t,
                                 int tid, float* smem) {
  static_assert(kTileRows == 8, "run_partials covers 1, 2, 4 and 8 rows");
  if (t.rows <= 1) return partials<1>(p, forward, layer, t, tid, smem);
  if (t.rows <= 2) return partials<2>(p, forward, layer, t, tid, smem);
  if (t.rows <= 4) return partials<4>(p, forward, layer, t, tid, smem);
  return partials<8>(p, forward, layer, t, tid, smem);
}

GRAFT_FUSED_FN float reduce_slices(float* smem, const Tile& t, int rr, int c) {
  float sum = 0.0f;
  for (int s = 0; s < t.slices; ++s) sum += *partial_at(smem, t, s, rr, c);
  return sum;
}

// Forward reduction: bias, activation, output. The logits layer (the last)
// also keeps its tile, whole rows, in shared memory for the softmax.
GRAFT_FUSED_FN void forward_reduce(const Program& p, int layer, const TaskPos& t, int tid,
                                   float* smem) {
  const Layer& L = p.layers[layer];
  const bool logits = layer == p.num_layers - 1;
  float* tile_out = smem + kPartialFloats;
  for (int idx = tid; idx < kTileRows * t.tile.cols; idx += kThreads) {
    const int rr = idx / t.tile.cols;
    const int c = idx % t.tile.cols;
    const int j = t.c0 + c;
    if (rr >= t.rows || j >= L.fan_out) continue;
    const float z = reduce_slices(smem, t.tile, rr, c) + L.b[j];
    const float y = logits ? z : math::activation(L.act, z, L.alpha);
    L.out[static_cast<int64_t>(t.r0 + rr) * L.fan_out + j] = y;
    if (logits) tile_out[rr * t.tile.cols + c] = z;
  }
}

// Input-gradient reduction: dz_{l-1} = sum * act'_{l-1}(out_{l-1}).
GRAFT_FUSED_FN void input_grad_reduce(const Program& p, int layer, const TaskPos& t, int tid,
                                      float* smem) {
  const Layer& L = p.layers[layer];
  const Layer& below = p.layers[layer - 1];
  for (int idx = tid; idx < kTileRows * t.tile.cols; idx += kThreads) {
    const int rr = idx / t.tile.cols;
    const int c = idx % t.tile.cols;
    const int i = t.c0 + c;
    if (rr >= t.rows || i >= L.fan_in) continue;
    const int64_t at = static_cast<int64_t>(t.r0 + rr) * L.fan_in + i;
    below.dz[at] = math::activation_grad(below.act, reduce_slices(smem, t.tile, rr, c), below.out[at],
                                         below.alpha);
  }
}

GRAFT_FUSED_FN double* tile_row_loss(float* smem) {
  return reinterpret_cast<double*>(smem + kPartialFloats + kLogitsFloats);
}
GRAFT_FUSED_FN int* tile_row_hit(float* smem) {
  return reinterpret_cast<int*>(smem + kPartialFloats + kLogitsFloats + 2 * kTileRows);
}

// Sparse softmax cross-entropy of one row (thread rr) from the logits tile:
// writes dz = (softmax - onehot) / n and the row's loss and hit to shared
// memory. Same definitions as cuda/softmax_xent.cu: an invalid label gives an
// infinite loss and no hit; a hit needs finite logits and no logit strictly
// above the label's (TF's in_top_k with k = 1).
GRAFT_FUSED_FN void softmax_rows(const Program& p, int layer, const TaskPos& t, int tid,
                                 float* smem) {
  if (tid >= t.rows) return;
  const Layer& L = p.layers[layer];
  const float* z = smem + kPartialFloats + tid * t.tile.cols;
  const int classes = L.fan_out;
  const int r = t.r0 + tid;
  float m = -INFINITY;
  bool finite = true;
  for (int c = 0; c < classes; ++c) {
    finite = finite && is_finite(z[c]);
    m = fmaxf(m, z[c]);
  }
  float s = 0.0f;
  for (int c = 0; c < classes; ++c) s += expf(z[c] - m);
  const int32_t label = p.batch.labels[p.batch.order[p.batch.begin + r]];
  const bool valid = math::xent_label_valid(label, classes);
  const float zl = valid ? z[label] : 0.0f;
  bool larger = false;
  for (int c = 0; c < classes; ++c) larger = larger || (z[c] > zl);
  const float inv = 1.0f / s;
  const float scale = 1.0f / static_cast<float>(p.batch.n);
  float* dz = L.dz + static_cast<int64_t>(r) * classes;
  for (int c = 0; c < classes; ++c) dz[c] = math::xent_logit_grad(z[c], m, inv, c == label, scale);
  tile_row_loss(smem)[tid] = valid ? static_cast<double>(math::xent_row_loss(s, zl, m)) : INFINITY;
  tile_row_hit(smem)[tid] = math::xent_row_hit(valid, finite, larger) ? 1 : 0;
}

GRAFT_FUSED_FN void sum_tile_loss(const Program& p, const TaskPos& t, int tid, float* smem) {
  if (tid != 0) return;
  double loss = 0.0;
  long long hits = 0;
  for (int rr = 0; rr < t.rows; ++rr) {
    loss += tile_row_loss(smem)[rr];
    hits += tile_row_hit(smem)[rr];
  }
  p.tile_loss[t.row_tile] = loss;
  p.tile_hits[t.row_tile] = hits;
}

GRAFT_FUSED_FN void run_op(const Program& p, const Substep& st, const TaskPos& t, int tid,
                           float* smem) {
  switch (st.op) {
    case Op::kForwardPartials: return run_partials(p, true, st.layer, t, tid, smem);
    case Op::kForwardReduce: return forward_reduce(p, st.layer, t, tid, smem);
    case Op::kSoftmax: return softmax_rows(p, st.layer, t, tid, smem);
    case Op::kLossSum: return sum_tile_loss(p, t, tid, smem);
    case Op::kInputGradPartials: return run_partials(p, false, st.layer, t, tid, smem);
    case Op::kInputGradReduce: return input_grad_reduce(p, st.layer, t, tid, smem);
  }
}

}  // namespace detail

// Substep `sub` of block task `task` of phase `ph`, for thread `tid` of the
// block; `smem` is the block's shared memory (kSmemFloats floats, 16-byte
// aligned). The driver runs substeps 0..phase_substeps-1 with a block
// barrier after each.
GRAFT_FUSED_FN void task_substep(const Program& p, const Phase& ph, int task, int sub, int tid,
                                 float* smem) {
  TaskPos t;
  Substep st;
  if (ph.kind == PhaseKind::kRowLocal) {
    st = row_local_substep(p, sub);
    const Layer& L = p.layers[st.layer];
    const bool backward = st.op == Op::kInputGradPartials || st.op == Op::kInputGradReduce;
    t.tile = wide_tile(backward ? L.fan_in : L.fan_out);
    t.row_tile = task;
    t.r0 = task * p.batch.local_rows;
    t.c0 = st.c0;
  } else {
    t.tile = grid_phase_tile(p, ph);
    const int col_tiles = ceil_div(grid_phase_width(p, ph), t.tile.cols);
    t.row_tile = task / col_tiles;
    t.r0 = t.row_tile * kTileRows;
    t.c0 = (task % col_tiles) * t.tile.cols;
    // Substeps 0, 1: partials, reduce; 2, 3 (the logits phase): softmax, loss sum.
    st = {sub == 0 ? Op::kForwardPartials : sub == 1 ? Op::kForwardReduce : sub == 2 ? Op::kSoftmax : Op::kLossSum,
          ph.layer, t.c0};
    if (ph.kind == PhaseKind::kInputGrad) st.op = sub == 0 ? Op::kInputGradPartials : Op::kInputGradReduce;
  }
  const int span = ph.kind == PhaseKind::kRowLocal ? p.batch.local_rows : kTileRows;
  t.rows = p.batch.n - t.r0 < span ? p.batch.n - t.r0 : span;
  detail::run_op(p, st, t, tid, smem);
}

// ---------------------------------------------------------------------------
// Update items: one per trainable parameter element of the phase's layers.

GRAFT_FUSED_FN int64_t layer_update_items(const Layer& L) {
  return (L.train_w ? static_cast<int64_t>(L.fan_in) * L.fan_out : 0) + (L.train_b ? L.fan_out : 0);
}

GRAFT_FUSED_FN int64_t phase_items(const Program& p, const Phase& ph) {
  int64_t items = 0;
  for (int l = ph.update_first; l >= 0 && l <= ph.update_last; ++l) items += layer_update_items(p.layers[l]);
  return items;
}

// The program's hyper-parameters with this step's learning rate.
GRAFT_FUSED_FN math::OptimizerHyper step_hyper(const Program& p, const StepScalars& sc) {
  math::OptimizerHyper h = p.hyper;
  h.lr = sc.learning_rate;
  return h;
}

// Item e of the phase: the gradient element (weights: sum over the batch of
// in[r][k] * dz[r][j], rows in order; biases: sum of dz[r][j]), then the rule.
GRAFT_FUSED_FN void update_item(const Program& p, const Phase& ph, int64_t e, const StepScalars& sc) {
  int l = ph.update_first;
  while (l < ph.update_last && e >= layer_update_items(p.layers[l])) {
    e -= layer_update_items(p.layers[l]);
    ++l;
  }
  const Layer& L = p.layers[l];
  const int n = p.batch.n;
  const int64_t weights = L.train_w ? static_cast<int64_t>(L.fan_in) * L.fan_out : 0;
  if (e < weights) {
    const int k = static_cast<int>(e / L.fan_out);
    const int j = static_cast<int>(e % L.fan_out);
    float g = 0.0f;
    for (int r = 0; r < n; ++r) {
      g = fmaf(input_row(p, l, r)[k], L.dz[static_cast<int64_t>(r) * L.fan_out + j], g);
    }
    apply_update(step_hyper(p, sc), sc, g, L.w, L.w_slot0, L.w_slot1, e);
  } else {
    const int j = static_cast<int>(e - weights);
    float g = 0.0f;
    for (int r = 0; r < n; ++r) g += L.dz[static_cast<int64_t>(r) * L.fan_out + j];
    apply_update(step_hyper(p, sc), sc, g, L.b, L.b_slot0, L.b_slot1, j);
  }
}

GRAFT_FUSED_FN StepScalars read_step_scalars(const Program& p) {
  // The learning rate of this step: the schedule at the global step
  // (host/math/lr_schedule.h), read before block 0 advances the step.
  return {p.state->beta1_power, p.state->beta2_power,
          math::scheduled_lr(p.hyper.schedule, p.state->learning_rate, p.state->step)};
}

// Block 0, thread 0, in the last phase: the step's loss and hits into the
// running totals (row tiles in order), global_step and Adam's powers.
GRAFT_FUSED_FN void finish_step(const Program& p, const StepScalars& sc) {
  double loss = 0.0;
  long long hits = 0;
  for (int t = 0; t < p.batch.loss_tiles; ++t) {
    loss += p.tile_loss[t];
    hits += p.tile_hits[t];
  }
  p.state->train.loss_sum += loss;
  p.state->train.correct += hits;
  p.state->step += 1;
  if (p.hyper.kind == OptimizerKind::kAdam) {
    float b1p = sc.beta1_power, b2p = sc.beta2_power;
    math::advance_beta_powers(p.hyper, b1p, b2p);
    p.state->beta1_power = b1p;
    p.state->beta2_power = b2p;
  }
}

}  // namespace graft::cuda::fused
