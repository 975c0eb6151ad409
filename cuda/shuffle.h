#pragma once
// The per-epoch row order on the device: the permutation that sorts row
// indices by shuffle_key(seed, epoch, i) (host/data/shuffle_key.h), ties broken by
// index. CUB's radix sort is stable, so this is exactly the order that
// std::stable_sort gives on the CPU (and what thrust::stable_sort_by_key would
// give: for 64-bit keys Thrust dispatches to this same CUB radix sort; calling
// CUB directly lets the temporary storage be allocated once per data set
// instead of a cudaMalloc/cudaFree, which synchronises, every epoch).
#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/device_buffer.h"

namespace graft::cuda {

class ShuffleWorkspace {
 public:
  // Allocates keys, indices and CUB's temporary storage for `rows` rows
  // (once; later calls with the same or fewer rows do nothing).
  void reserve(int64_t rows);
  int64_t rows() const { return rows_; }

  DeviceBuffer<uint64_t> keys_in, keys_out;
  DeviceBuffer<uint32_t> index_in;
  DeviceBuffer<unsigned char> temp;
  std::size_t temp_bytes = 0;

 private:
  int64_t rows_ = 0;
};

// order[i] = the i-th row of the epoch's permutation (rows < 2^31).
void shuffle_order(uint32_t* order, int64_t rows, uint64_t seed, uint64_t epoch,
                   ShuffleWorkspace& ws, cudaStream_t stream);

// order[i] = i.
void identity_order(uint32_t* order, int64_t rows, cudaStream_t stream);

}  // namespace graft::cuda
