#pragma once
// A data set held by the CPU backend: features [rows, cols] in one aligned
// block, labels, and the current row order (identity until shuffled).
#include <cstdint>
#include <numeric>
#include <vector>

#include "checkpoint/error.h"
#include "host/backend.h"
#include "host/cpu/aligned_buffer.h"

namespace graft::cpu {

class CpuDataset final : public DeviceDataset {
 public:
  CpuDataset(int64_t rows, int64_t cols)
      : features(rows * cols), labels(static_cast<std::size_t>(rows)), order(static_cast<std::size_t>(rows)),
        rows_(rows), cols_(cols) {
    std::iota(order.begin(), order.end(), 0u);
  }
  int64_t rows() const override { return rows_; }
  int64_t cols() const override { return cols_; }
  int64_t bytes() const override {
    return rows_ * cols_ * static_cast<int64_t>(sizeof(float)) +
           rows_ * static_cast<int64_t>(sizeof(int32_t) + sizeof(uint32_t));
  }

  AlignedBuffer features;
  std::vector<int32_t> labels;
  std::vector<uint32_t> order;

 private:
  int64_t rows_, cols_;
};

// The CPU data set behind `data`; throws when another backend made it.
inline CpuDataset& as_cpu(DeviceDataset& data) {
  auto* d = dynamic_cast<CpuDataset*>(&data);
  if (!d) throw Error("cpu backend: the data set was not uploaded by the CPU backend");
  return *d;
}
inline const CpuDataset& as_cpu(const DeviceDataset& data) { return as_cpu(const_cast<DeviceDataset&>(data)); }

}  // namespace graft::cpu
