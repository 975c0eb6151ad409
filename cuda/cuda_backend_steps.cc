// The CUDA backend's step graphs: the step's pieces enqueued on the
// streams (forward, backward with the weight gradients forked onto side_,
// the multi-tensor update), the update chunk tables, capture and replay of
// the step as a CUDA graph per key, and train_step, which picks the fused
// step, a graph or an eager step. The class: cuda/cuda_backend_internal.h.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/error.h"
#include "cuda/bias_activation.h"
#include "cuda/cuda_backend_internal.h"
#include "cuda/cuda_check.h"
#include "cuda/fused_step.h"
#include "cuda/gemm.h"
#include "host/nvtx_range.h"

namespace graft::cuda {
namespace {

// Captured step graphs kept (least recently used evicted).
constexpr std::size_t kMaxGraphs = 32;

}  // namespace

void CudaBackend::clear_graphs() {
  for (auto& [key, g] : graphs_) {
    // An executable graph still in flight is freed when it completes.
    if (g.exec) GRAFT_CUDA_CHECK(cudaGraphExecDestroy(g.exec));
    if (g.graph) GRAFT_CUDA_CHECK(cudaGraphDestroy(g.graph));
  }
  graphs_.clear();
  eager_runs_.clear();
}

// ---------------------------------------------------------------------------
// Forward through layers [first_layer, last_layer] on n rows of x, in the
// forms of `walk`. The last layer writes to last_out when given
// (forward_prefix), else to act_. A dense node is a GEMM and the bias +
// activation kernel, as it always was; batch norm and dropout nodes are
// cuda_backend_nodes.cc's.
void CudaBackend::enqueue_forward(const float* x, int64_t n, int first_layer, int last_layer,
                                  float* last_out, const std::vector<NodeForward>& walk) {
  NvtxRange range("graft.forward");
  const float* in = x;
  for (const NodeForward& f : walk) {
    const int l = f.node;
    if (l < first_layer || l > last_layer) continue;
    const auto& s = layers_[l];
    float* out = (l == last_layer && last_out != nullptr) ? last_out : act_[l].get();
    if (f.form == NodeForm::kDense) {
      gemm_forward(blas_, in, param_ptr(layout_.kernel(l)), out, n, s.fan_in, s.fan_out);
      bias_activation_forward(out, param_ptr(layout_.bias(l)), n, s.fan_out, s.activation, stream_);
    } else {
      enqueue_node_forward(f, in, out, n);
    }
    in = out;
  }
}

// Backward from dgrad_[last] (written by softmax_xent) down to the lowest
// layer with a trainable parameter, the table's walk (its step plan). Weight
// gradients fork onto side_.
void CudaBackend::enqueue_backward(const float* x, int64_t n, int first_layer,
                                   const ChunkTable& table) {
  NvtxRange range("graft.backward");
  bool forked = false;
  for (const NodeBackward& b : table.backward) {
    const int l = b.node;
    const float* in = (l == first_layer) ? x : act_[l - 1].get();
    if (b.form != NodeForm::kDense) {
      enqueue_node_backward(b, in, n);
      continue;
    }
    const auto& s = layers_[l];
    // dgrad_[l] *= act'(y); bias gradient (computed even for a frozen bias:
    // it costs nothing extra in this pass, and the update skips it).
    activation_backward_bias_grad(dgrad_[l].get(), act_[l].get(), grad_ptr(b.grad_bias), n,
                                  s.fan_out, s.activation, bias_ws_, stream_);
    if (b.grad_kernel >= 0) {
      GRAFT_CUDA_CHECK(cudaEventRecord(fork_, stream_));
      GRAFT_CUDA_CHECK(cudaStreamWaitEvent(side_, fork_, 0));
      gemm_weight_grad(blas_side_, in, dgrad_[l].get(), grad_ptr(b.grad_kernel), n, s.fan_in, s.fan_out);
      forked = true;
    }
    if (b.input_grad) {
      gemm_input_grad(blas_, dgrad_[l].get(), param_ptr(layout_.kernel(l)), dgrad_[l - 1].get(), n, s.fan_in,
                      s.fan_out);
    }
  }
  if (forked) {
    GRAFT_CUDA_CHECK(cudaEventRecord(join_, side_));
    GRAFT_CUDA_CHECK(cudaStreamWaitEvent(stream_, join_, 0));
  }
}

void CudaBackend::enqueue_update(const ChunkTable& table) {
  NvtxRange range("graft.update");
  const float* scale = nullptr;
  if (optimizer_.clip_norm > 0.0f) {
    global_norm_scale(grads_.get(), table.chunks.get(), table.count, optimizer_.clip_norm,
                      norm_partials_.get(), state_.get(), stream_);
    scale = &state_.get()->norm_scale;
  }
  optimizer_update(optimizer_, params_.get(), grads_.get(), slot0_.get(), slot1_.get(),
                   table.chunks.get(), table.count, scale, state_.get(), stream_);
}

GatherArgs CudaBackend::gather_args(const CudaDataset& d, int64_t begin, int64_t n) const {
  GatherArgs a;
  a.features = d.features.get();
  a.labels = d.labels.get();
  a.order = d.order.get();
  a.begin = begin;
  a.n = n;
  a.cols = d.cols();
  a.out = x_batch_.get();
  a.labels_out = y_batch_.get();
  return a;
}

void CudaBackend::enqueue_step(const CudaDataset& d, int64_t begin, int64_t n, int first_layer,
                               const ChunkTable& table, cudaGraphNode_t* capture_node) {
  gather_batch(gather_args(d, begin, n), stream_);
  if (capture_node != nullptr) {
    // The gather is the first captured node, so it is the capture's only
    // current dependency: that is its handle for later SetParams calls.
    cudaStreamCaptureStatus status{};
    const cudaGraphNode_t* deps = nullptr;
    std::size_t num_deps = 0;
    GRAFT_CUDA_CHECK(cudaStreamGetCaptureInfo(stream_, &status, nullptr, nullptr, &deps, nullptr,
                                              &num_deps));
    if (status != cudaStreamCaptureStatusActive || num_deps != 1 || deps == nullptr) {
      throw Error("cuda backend: could not find the gather node in the captured step");
    }
    *capture_node = deps[0];
  }
  const int last = static_cast<int>(layers_.size()) - 1;
  enqueue_forward(x_batch_.get(), n, first_layer, last, nullptr, table.forward);
  softmax_xent(act_[last].get(), y_batch_.get(), dgrad_[last].get(), n, layers_[last].fan_out,
               1.0f / static_cast<float>(n), &state_.get()->train, &state_.get()->xent_arrivals,
               xent_ws_, stream_);
  // The penalty of the weights this batch ran with joins its loss.
  regularizer_.enqueue_penalty(params_.get(), n, &state_.get()->train.loss_sum, stream_);
  if (table.count > 0) {
    enqueue_backward(x_batch_.get(), n, first_layer, table);
    regularizer_.enqueue_gradient(table.reg, grads_.get(), params_.get(), stream_);  // before clipping
    enqueue_update(table);
    regularizer_.enqueue_max_norm(table.reg, params_.get(), stream_);
  } else {
    optimizer_advance_scalars(optimizer_, state_.get(), stream_);  // the step still counts
  }
}

const CudaBackend::ChunkTable& CudaBackend::chunk_table(int first_layer) {
  auto it = chunk_tables_.find(first_layer);
  if (it != chunk_tables_.end()) return it->second;
  ChunkTable t;
  t.plan = plan_step(layout_, trainable_, first_layer, optimizer_.clip_norm > 0.0f);
  t.forward = forward_walk(layout_, &t.plan, first_layer, static_cast<int>(layers_.size()) - 1);
  t.backward = backward_walk(layout_, t.plan);
  // Trainable optimized parameters: batch norm's moving statistics are
  // updated by their op in the forward, never by the optimizer.
  const std::vector<std::pair<int64_t, int64_t>> ranges = update_ranges(layout_, trainable_, first_layer);
  t.reg = regularizer_.table(layout_, trainable_, first_layer, stream_);
  const std::vector<UpdateChunk> chunks = make_update_chunks(ranges);
  t.count = static_cast<int>(chunks.size());
  if (t.count > 0) {
    t.chunks = DeviceBuffer<UpdateChunk>(chunks.size(), "update chunk table");
    // Once per (first_layer, trainable set): a synchronous copy is fine here.
    copy_to_device(t.chunks.get(), chunks.data(), chunks.size() * sizeof(UpdateChunk));
  }
  return chunk_tables_.emplace(first_layer, std::move(t)).first->second;
}

bool CudaBackend::try_capture(const StepKey& key, const CudaDataset& d, int64_t begin, int64_t n,
                              int first_layer, const ChunkTable& table) {
  StepGraph g;
  GRAFT_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
  try {
    enqueue_step(d, begin, n, first_layer, table, &g.gather_node);
  } catch (const std::exception& e) {
    cudaGraph_t partial = nullptr;
    (void)cudaStreamEndCapture(stream_, &partial);
    if (partial != nullptr) (void)cudaGraphDestroy(partial);
    (void)cudaGetLastError();
    stats_.graph_error = std::string("capture failed: ") + e.what();
    options_.use_graphs = false;
    return false;
  }
  cudaError_t err = cudaStreamEndCapture(stream_, &g.graph);
  if (err == cudaSuccess && cudaGraphKernelNodeGetParams(g.gather_node, &g.gather_params) != cudaSuccess) {
    (void)cudaGetLastError();  // rebuild the node's launch shape ourselves
    g.gather_params = gather_batch_launch_params(gather_args(d, begin, n));
  }
  if (err == cudaSuccess) err = cudaGraphInstantiate(&g.exec, g.graph, 0);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    if (g.graph != nullptr) (void)cudaGraphDestroy(g.graph);
    stats_.graph_error = std::string("capture failed: ") + cudaGetErrorString(err);
    options_.use_graphs = false;
    return false;
  }
  if (graphs_.size() >= kMaxGraphs) {
    auto oldest = std::min_element(graphs_.begin(), graphs_.end(), [](const auto& a, const auto& b) {
      return a.second.last_use < b.second.last_use;
    });
    GRAFT_CUDA_CHECK(cudaGraphExecDestroy(oldest->second.exec));
    GRAFT_CUDA_CHECK(cudaGraphDestroy(oldest->second.graph));
    graphs_.erase(oldest);
  }
  graphs_.emplace(key, g);
  ++stats_.graph_captures;
  return true;
}

void CudaBackend::train_step(const DeviceDataset& data, int64_t begin, int64_t n,
                             int first_layer) {
  require_built("train_step");
  const CudaDataset& d = as_cuda(data);
  const int nl = static_cast<int>(layers_.size());
  if (first_layer < 0 || first_layer >= nl) {
    throw Error("cuda backend: train_step: first_layer " + std::to_string(first_layer) +
                " outside [0, " + std::to_string(nl) + ")");
  }
  if (d.cols() != layers_[first_layer].fan_in) {
    throw Error("cuda backend: train_step: data has " + std::to_string(d.cols()) +
                " columns, layer " + std::to_string(first_layer) + " takes " +
                std::to_string(layers_[first_layer].fan_in));
  }
  if (n <= 0 || n > max_batch_) {
    throw Error("cuda backend: train_step: batch of " + std::to_string(n) +
                " rows outside [1, max_batch = " + std::to_string(max_batch_) + "]");
  }
  if (begin < 0 || begin + n > d.rows()) {
    throw Error("cuda backend: train_step: rows [" + std::to_string(begin) + ", " +
                std::to_string(begin + n) + ") outside the data set's " +
                std::to_string(d.rows()));
  }
  NvtxRange range("graft.train_step");
  if (options_.fused_step && n <= kFusedMaxBatch) {
    if (fused::Program* p = fused_program(first_layer)) {
      fused::set_batch(*p, d.features.get(), d.labels.get(), d.order.get(), d.cols(), begin, n);
      try {
        fused_step_launch(*p, fused_grid_, stream_);
        train_samples_ += n;
        ++stats_.fused_steps;
        return;
      } catch (const Error& e) {
        // A launch the driver refuses (e.g. the grid cannot be co-resident
        // under MPS) enqueues nothing: say why and take the graph path from
        // now on. Faults inside the kernel are not caught here; they surface
        // at the next synchronising call like any other.
        (void)cudaGetLastError();
        stats_.fused_error = std::string("cooperative launch failed: ") + e.what();
        options_.fused_step = false;
      }
    }
  }
  const ChunkTable& table = chunk_table(first_layer);
  train_samples_ += n;

  if (options_.use_graphs) {
    const StepKey key{d.id, n, first_layer, trainable_version_};
    auto it = graphs_.find(key);
    if (it == graphs_.end() && ++eager_runs_[key] >= 2 &&
        try_capture(key, d, begin, n, first_layer, table)) {
      it = graphs_.find(key);
    }
    if (it != graphs_.end()) {
      // Only the batch offset changes between replays.
      gather_batch_update_node(it->second.exec, it->second.gather_node, it->second.gather_params,
                               gather_args(d, begin, n));
      GRAFT_CUDA_CHECK(cudaGraphLaunch(it->second.exec, stream_));
      it->second.last_use = ++use_clock_;
      ++stats_.graph_launches;
      return;
    }
  }
  // Eager: the first step of each key (it also warms up cuBLAS, so that no
  // lazy initialisation happens inside a capture), or graphs off.
  enqueue_step(d, begin, n, first_layer, table, nullptr);
  ++stats_.eager_steps;
}

}  // namespace graft::cuda
