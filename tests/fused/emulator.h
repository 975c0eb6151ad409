#pragma once
// A CPU driver for the fused training step (cuda/fused/program.h): runs the
// very functions the cooperative kernel runs, phase by phase, block by
// block, thread by thread, with the block barriers as substep boundaries and
// the grid barriers as phase boundaries. It lets every CI run check the
// fused algorithm against the CPU reference backend, with or without a GPU,
// and it checks that results do not depend on the grid size or on the order
// blocks and threads run in (they must not: items of one phase are
// independent).
#include <cstdint>
#include <vector>

#include "cuda/device_state.h"
#include "cuda/fused/plan.h"
#include "host/backend.h"

namespace graft::test {

class FusedEmulator {
 public:
  struct Options {
    int blocks = 7;        // the grid size being emulated
    bool reversed = false; // run blocks, threads and items in reverse order
    cuda::fused::Schedule schedule = cuda::fused::Schedule::kAuto;
  };

  FusedEmulator(const std::vector<DenseLayerShape>& layers, const OptimizerConfig& optimizer,
                int64_t max_batch, Options options);

  int num_params() const { return static_cast<int>(params_.size()); }
  void write_param(int index, const float* src);
  void read_param(int index, float* dst) const;
  void write_slot(int index, int slot, const float* src);
  void read_slot(int index, int slot, float* dst) const;
  void set_trainable(int index, bool trainable) { trainable_.at(index) = trainable; }
  OptimizerScalars read_scalars() const;

  // One data set (copied), identity order until shuffle().
  void upload(const float* features, const int32_t* labels, int64_t rows, int64_t cols);
  void shuffle(uint64_t seed, uint64_t epoch);  // host/data/shuffle_key.h's permutation
  void train_step(int64_t begin, int64_t n, int first_layer);
  EpochTotals take_train_totals();

 private:
  void run(const cuda::fused::Program& p);

  std::vector<DenseLayerShape> layers_;
  OptimizerConfig optimizer_;
  int64_t max_batch_;
  Options options_;
  int num_slots_;
  std::vector<std::vector<float>> params_, slot0_, slot1_, out_, dz_;
  std::vector<bool> trainable_;
  std::vector<double> tile_loss_;
  std::vector<long long> tile_hits_;
  cuda::DeviceState state_{};
  int64_t samples_ = 0;
  std::vector<float> features_;
  std::vector<int32_t> labels_;
  std::vector<uint32_t> order_;
  int64_t rows_ = 0, cols_ = 0;
};

}  // namespace graft::test
