// Per-epoch shuffle: keys from the shared splitmix64 hash, then a stable
// radix sort of (key, index) pairs over all 64 key bits.
#include "cuda/shuffle.h"

#include <cub/device/device_radix_sort.cuh>

#include <algorithm>

#include "checkpoint/error.h"
#include "cuda/cuda_check.h"
#include "host/data/shuffle_key.h"

namespace graft::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void make_keys_kernel(uint64_t* __restrict__ keys, uint32_t* __restrict__ index,
                                 int64_t rows, uint64_t seed, uint64_t epoch) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < rows;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    keys[i] = shuffle_key(seed, epoch, static_cast<uint64_t>(i));
    index[i] = static_cast<uint32_t>(i);
  }
}

__global__ void iota_kernel(uint32_t* __restrict__ order, int64_t rows) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < rows;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    order[i] = static_cast<uint32_t>(i);
  }
}

unsigned blocks_for(int64_t rows) {
  return static_cast<unsigned>(std::clamp<int64_t>((rows + kThreads - 1) / kThreads, 1, 65535));
}

void check_rows(int64_t rows) {
  if (rows >= (int64_t{1} << 31)) {
    throw Error("shuffle: " + std::to_string(rows) + " rows exceed the 2^31 - 1 supported");
  }
}

}  // namespace

void ShuffleWorkspace::reserve(int64_t rows) {
  check_rows(rows);
  if (rows <= rows_) return;
  std::size_t bytes = 0;
  GRAFT_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
      nullptr, bytes, static_cast<const uint64_t*>(nullptr), static_cast<uint64_t*>(nullptr),
      static_cast<const uint32_t*>(nullptr), static_cast<uint32_t*>(nullptr),
      static_cast<int>(rows)));
  keys_in = DeviceBuffer<uint64_t>(static_cast<std::size_t>(rows), "shuffle keys");
  keys_out = DeviceBuffer<uint64_t>(static_cast<std::size_t>(rows), "shuffle keys (sorted)");
  index_in = DeviceBuffer<uint32_t>(static_cast<std::size_t>(rows), "shuffle indices");
  temp = DeviceBuffer<unsigned char>(std::max<std::size_t>(bytes, 1), "shuffle sort storage");
  temp_bytes = bytes;
  rows_ = rows;
}

void shuffle_order(uint32_t* order, int64_t rows, uint64_t seed, uint64_t epoch,
                   ShuffleWorkspace& ws, cudaStream_t stream) {
  if (rows <= 0) return;
  ws.reserve(rows);
  make_keys_kernel<<<blocks_for(rows), kThreads, 0, stream>>>(ws.keys_in.get(), ws.index_in.get(),
                                                               rows, seed, epoch);
  GRAFT_CUDA_CHECK_LAUNCH();
  std::size_t bytes = ws.temp_bytes;
  GRAFT_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
      ws.temp.get(), bytes, ws.keys_in.get(), ws.keys_out.get(), ws.index_in.get(), order,
      static_cast<int>(rows), 0, 64, stream));
}

void identity_order(uint32_t* order, int64_t rows, cudaStream_t stream) {
  if (rows <= 0) return;
  iota_kernel<<<blocks_for(rows), kThreads, 0, stream>>>(order, rows);
  GRAFT_CUDA_CHECK_LAUNCH();
}

}  // namespace graft::cuda
