#pragma once
// Gathering a batch by index on the device. CPU twin: graft::cpu::gather_rows.
#include <cuda_runtime_api.h>

#include <cstdint>

namespace graft::cuda {

// out[i, :] = features[order[begin + i], :], labels_out[i] = labels[order[begin + i]]
// for i < n. order may be null (identity); labels/labels_out may be null.
// Passed to the kernel by value, so a graph's gather node can be pointed at
// the next batch with cudaGraphExecKernelNodeSetParams (only `begin` changes).
struct GatherArgs {
  const float* features = nullptr;  // [rows, cols]
  const int32_t* labels = nullptr;  // [rows]
  const uint32_t* order = nullptr;  // [rows]
  int64_t begin = 0;
  int64_t n = 0;
  int64_t cols = 0;
  float* out = nullptr;             // [n, cols]
  int32_t* labels_out = nullptr;    // [n]
  int vec4 = 0;                     // set by the launcher: 16-byte copies are possible
};

void gather_batch(const GatherArgs& args, cudaStream_t stream);

// Row gather with an explicit index (the CPU twin's signature).
void gather_rows(const float* src, const uint32_t* index, float* out, int64_t n, int64_t cols,
                 cudaStream_t stream);

// Re-points a captured gather node (found with cudaStreamGetCaptureInfo right
// after gather_batch was captured) at new arguments: `captured` is the node's
// own cudaGraphKernelNodeGetParams (function, grid, block), only the argument
// struct is replaced. Same n and cols as at capture.
void gather_batch_update_node(cudaGraphExec_t exec, cudaGraphNode_t node,
                              const cudaKernelNodeParams& captured, const GatherArgs& args);
// The launch gather_batch(args) makes (function, grid, block; no arguments):
// the fallback when the captured node's parameters cannot be read back.
cudaKernelNodeParams gather_batch_launch_params(const GatherArgs& args);

}  // namespace graft::cuda
