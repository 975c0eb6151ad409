#pragma once
// Helpers for the GPU tests: the skip guard, device arrays filled from and
// read back to host vectors, and seeded random data.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/cuda_check.h"
#include "cuda/device_buffer.h"

// Every GPU test starts with this: without a usable device it skips with the
// reason ("no CUDA device: CUDA driver version is insufficient ...").
#define GRAFT_REQUIRE_CUDA()                                                     \
  do {                                                                           \
    if (::graft::cuda_device_count() <= 0) {                                     \
      GTEST_SKIP() << ::graft::cuda_device_summary();                            \
    }                                                                            \
  } while (0)

namespace graft::test {

// A device copy of a host vector (synchronous; default stream).
template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(const std::vector<T>& host)
      : buf_(host.size(), "test array"), size_(host.size()) {
    if (!host.empty()) {
      GRAFT_CUDA_CHECK(cudaMemcpy(buf_.get(), host.data(), host.size() * sizeof(T),
                                  cudaMemcpyHostToDevice));
    }
  }
  explicit DeviceArray(std::size_t n, T fill = T{}) : DeviceArray(std::vector<T>(n, fill)) {}

  T* get() const { return buf_.get(); }
  std::size_t size() const { return size_; }
  std::vector<T> to_host() const {
    GRAFT_CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<T> out(size_);
    if (size_ > 0) {
      GRAFT_CUDA_CHECK(cudaMemcpy(out.data(), buf_.get(), size_ * sizeof(T), cudaMemcpyDeviceToHost));
    }
    return out;
  }

 private:
  cuda::DeviceBuffer<T> buf_;
  std::size_t size_;
};

std::vector<float> random_floats(std::size_t n, float lo, float hi, uint32_t seed);
std::vector<int32_t> random_labels(std::size_t n, int32_t classes, uint32_t seed);

}  // namespace graft::test
