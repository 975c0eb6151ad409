#pragma once
// The backend interface: everything that touches parameter, gradient, slot or
// data memory. Two implementations: host/cpu/ (the exact reference, OpenBLAS
// plus fused loops) and cuda/ (cuBLAS plus fused kernels, graph-captured
// steps). The trainer never sees a raw device pointer, and nothing in the
// step path returns data to the host: loss and accuracy accumulate inside the
// backend and are read once per epoch (take_train_totals).
//
// Parameter indexing and memory: host/model/parameter_layout.h, the one
// function that numbers parameters (node, role) and places them in the flat
// parameter, gradient and slot buffers; both backends allocate from it. A
// kernel is TF layout [fan_in, fan_out] row-major (y = x·W + b), a bias
// [fan_out]. Host buffers passed in or out are always float32 in that layout.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "host/model/activation.h"
#include "host/model/model_description.h"
#include "host/model/optimizer_config.h"
#include "host/model/parameter_layout.h"
#include "host/model/regularization.h"

namespace graft {

// One node of the network as the backends see it. The name is the dense
// stack's (every existing caller builds dense layers); batch norm and dropout
// nodes keep the width (fan_in == fan_out) and carry their attributes.
struct DenseLayerShape {
  int64_t fan_in = 0;
  int64_t fan_out = 0;
  Activation activation;  // the last layer (logits) uses kIdentity; batch norm: act(BN(x))
  NodeKind kind = NodeKind::kDense;
  BatchNormAttrs batch_norm;  // kBatchNorm: momentum, epsilon, center (beta), scale (gamma)
  float rate = 0.0f;          // kDropout: fraction dropped in training
};
using NodeShape = DenseLayerShape;

// Sums over the samples seen since the last take_train_totals (or over one
// evaluate call). Mean loss = loss_sum / samples.
struct EpochTotals {
  double loss_sum = 0.0;
  int64_t correct = 0;
  int64_t samples = 0;
};

// A data set resident in the backend's memory: features float32
// [rows, cols] row-major and int32 labels [rows], plus the current row order
// (identity until shuffle is called).
class DeviceDataset {
 public:
  virtual ~DeviceDataset() = default;
  virtual int64_t rows() const = 0;
  virtual int64_t cols() const = 0;
  // Bytes of backend memory it holds (reported for the frozen-layer cache).
  virtual int64_t bytes() const = 0;
};

// The memory a backend keeps its data sets in.
struct BackendMemory {
  std::string kind;             // "RAM" or "GPU memory"
  int64_t total_bytes = 0;      // 0 when unknown
  int64_t available_bytes = 0;  // free now (0 when unknown)
};

// The flat buffers a backend keeps, all in one ParameterLayout.
enum class ParamBuffer { kParams, kGrads, kSlot0, kSlot1 };

// The host's physical memory (sysconf; MemAvailable from /proc/meminfo).
BackendMemory host_memory();

class Backend {
 public:
  virtual ~Backend() = default;

  // "cpu (OpenBLAS, 2 threads)", "cuda (NVIDIA H100 80GB HBM3)".
  virtual std::string description() const = 0;

  // Where upload() and forward_prefix() put data sets, and how much of it
  // there is: sizes the frozen-layer cache (host/train/frozen_cache.h). The
  // default is host_memory(); the CUDA backend reports its device's.
  virtual BackendMemory memory() const { return host_memory(); }

  // Allocates parameters (uninitialised), gradients, activations for batches
  // of up to max_batch rows, and optimizer slots (set to the optimizer's
  // initial values). Every parameter starts trainable.
  virtual void build(const std::vector<DenseLayerShape>& layers, const OptimizerConfig& optimizer,
                     int64_t max_batch) = 0;

  virtual int num_params() const = 0;  // parameter_layout(layers).size()

  // The layout build() allocated `buffer` in, measured from the memory
  // itself (each tensor's address minus the buffer's start, its size): the
  // test that it equals parameter_layout(layers) fails if a backend lays
  // memory out on its own. Throws for a slot the optimizer does not have.
  virtual ParameterLayout allocated_layout(ParamBuffer buffer) const = 0;
  virtual void write_param(int index, const float* src) = 0;
  virtual void read_param(int index, float* dst) = 0;  // synchronises

  // A frozen parameter gets no update and no slots (TF var_list semantics).
  // Its gradient is not computed when no trainable parameter needs it.
  virtual void set_trainable(int index, bool trainable) = 0;
  virtual bool trainable(int index) const = 0;

  // Optimizer state: slot k of parameter `index` (order of
  // optimizer_slot_suffixes), same layout as the parameter.
  virtual void write_slot(int index, int slot, const float* src) = 0;
  virtual void read_slot(int index, int slot, float* dst) = 0;
  virtual void write_scalars(const OptimizerScalars& scalars) = 0;
  // The learning rate of every step from the next one on (a schedule): the
  // same results as a backend built with it. Never synchronises; the CUDA
  // backend writes it into its device state, so captured graphs stay valid.
  virtual void set_learning_rate(float learning_rate) = 0;
  virtual OptimizerScalars read_scalars() = 0;
  // The regularizers of every parameter (host/model/regularization.h, one
  // per parameter index; none after build()): each step adds their penalty
  // to the batch's loss and its gradient to the trained parameters'
  // gradients before clipping, and clips trained kernels by norm after the
  // update. The default refuses any (a backend without them).
  virtual void set_regularization(const std::vector<ParamRegularizer>& per_param);

  // Copies a host data set into backend memory once.
  virtual std::unique_ptr<DeviceDataset> upload(const float* features, const int32_t* labels,
                                                int64_t rows, int64_t cols) = 0;

  // Runs rows of `data` through layers [0, k) with the current parameters and
  // returns their activations as a new data set (same labels, same row
  // order): the frozen-layer cache. k = 0 returns a copy.
  virtual std::unique_ptr<DeviceDataset> forward_prefix(const DeviceDataset& data, int k) = 0;

  // Sets the row order of `data` to the permutation that sorts row indices
  // by shuffle_key(seed, epoch, i) (host/data/shuffle_key.h), identical on every
  // backend, so CPU and GPU see the same batches.
  virtual void shuffle(DeviceDataset& data, uint64_t seed, uint64_t epoch) = 0;

  // One optimizer step on rows order[begin, begin + n) of `data`, whose
  // columns are the inputs of layer first_layer (0, or k after
  // forward_prefix(.., k)); layers below first_layer are untouched. Forward,
  // softmax cross-entropy, backward, clipping, update; the batch's loss and
  // correct count are added to the running totals. No host synchronisation.
  virtual void train_step(const DeviceDataset& data, int64_t begin, int64_t n, int first_layer) = 0;

  // The gradient-exchange point of the step plan (host/step_plan.h): called
  // by the step between the last gradient and the first update that needs
  // every gradient. One device: nothing to exchange (data-parallel training
  // over NCCL will sum gradients here).
  virtual void exchange_gradients() {}

  // Dropout masks are a function of (seed, step, node, row, column)
  // (host/math/counter_rng.h); the step is the optimizer's global step, so a
  // resumed run draws the masks the uninterrupted run would have drawn.
  virtual void set_dropout_seed(uint64_t seed) { dropout_seed_ = seed; }
  uint64_t dropout_seed() const { return dropout_seed_; }

  // Returns and resets the running training totals (one synchronisation).
  virtual EpochTotals take_train_totals() = 0;

  // Loss and top-1 accuracy over all rows of `data` (in stored order, not the
  // shuffled one), in batches of at most max_batch rows.
  virtual EpochTotals evaluate(const DeviceDataset& data, int first_layer) = 0;

  // The logits of `rows` host rows (float32 [rows, cols], inputs of node 0)
  // in eval mode, what evaluate scores: batch norm on its moving
  // statistics, dropout the identity. logits: [rows, outputs of the last
  // node], row by row, computed in batches of at most max_batch rows.
  // Synchronises. Per-row predictions on the chosen device
  // (host/predict/predictions.h).
  virtual void predict_logits(const float* features, int64_t rows, int64_t cols, float* logits) = 0;

 private:
  uint64_t dropout_seed_ = 0;
};

// The reference backend. threads <= 0 means OpenBLAS's default; more than
// max_cpu_threads() is a graft::Error.
std::unique_ptr<Backend> make_cpu_backend(int threads = 0);
int max_cpu_threads();  // 4 per hardware thread, at least 8

}  // namespace graft
