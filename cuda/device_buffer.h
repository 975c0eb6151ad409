#pragma once
// Owning device allocations. device_alloc() turns an out-of-memory failure
// into a graft::Error that says what was being allocated, how many bytes were
// asked for and how much the device has free (cudaMemGetInfo).
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace graft::cuda {

// cudaMalloc with a descriptive error; returns nullptr for bytes == 0.
void* device_alloc(std::size_t bytes, const std::string& what);
// cudaFree that never throws (destructors); errors are cleared and dropped.
void device_free(void* p) noexcept;
// Pinned host memory (for the once-per-epoch read-backs).
void* host_alloc_pinned(std::size_t bytes, const std::string& what);
void host_free_pinned(void* p) noexcept;

// A typed, move-only device array.
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(std::size_t count, const std::string& what)
      : ptr_(static_cast<T*>(device_alloc(count * sizeof(T), what))), count_(count) {}
  ~DeviceBuffer() { device_free(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), count_(std::exchange(o.count_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      device_free(ptr_);
      ptr_ = std::exchange(o.ptr_, nullptr);
      count_ = std::exchange(o.count_, 0);
    }
    return *this;
  }

  T* get() const { return ptr_; }
  std::size_t size() const { return count_; }
  std::size_t bytes() const { return count_ * sizeof(T); }
  explicit operator bool() const { return ptr_ != nullptr; }

 private:
  T* ptr_ = nullptr;
  std::size_t count_ = 0;
};

}  // namespace graft::cuda
