// Issue 15: layer widths and batch sizes are checked against the backend's
// memory before anything is allocated (`--hidden 3000000` and `--batch-size
// 1000000000000` ended in std::bad_alloc).
#include "host/train/memory_check.h"

#include <gtest/gtest.h>

#include <string>

#include "checkpoint/error.h"
#include "host/train/trainer.h"
#include "tests/common/blobs_training.h"

namespace graft {
namespace {

std::string error_of(const std::vector<DenseLayerShape>& layers, int slots, int64_t batch, int64_t available) {
  try {
    check_training_memory(layers, slots, batch, BackendMemory{"RAM", available, available});
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(MemoryCheck, EstimateCountsParametersSlotsAndActivations) {
  const std::vector<DenseLayerShape> layers = {{784, 300, {}}, {300, 10, {}}};
  const TrainingMemory m = estimate_training_memory(layers, 2, 50);
  EXPECT_EQ(static_cast<int64_t>(m.parameters), 784 * 300 + 300 + 300 * 10 + 10);
  EXPECT_EQ(static_cast<int64_t>(m.parameter_bytes), (784 * 300 + 300 + 300 * 10 + 10) * 4 * 4);
  EXPECT_EQ(static_cast<int64_t>(m.activation_bytes), 50 * 4 * (784 + 600 + 300 + 20));
}

TEST(MemoryCheck, RefusesWhatDoesNotFitNamingTheNumbers) {
  const int64_t gb8 = int64_t{8} << 30;
  const std::string wide = error_of({{784, 3000000, {}}, {3000000, 10, {}}}, 0, 2048, gb8);
  EXPECT_NE(wide.find("2385000010 parameters"), std::string::npos) << wide;
  EXPECT_NE(wide.find("more than the 8.6 GB of RAM available"), std::string::npos) << wide;
  const std::string batch = error_of({{784, 300, {}}, {300, 10, {}}}, 0, 1000000000000, gb8);
  EXPECT_NE(batch.find("batches of up to 1000000000000 rows"), std::string::npos) << batch;
  // Widths whose product passes int64 do not wrap around into "fits".
  EXPECT_NE(error_of({{4000000000, 4000000000, {}}, {4000000000, 10, {}}}, 2, 1, gb8), "");
  EXPECT_EQ(error_of({{784, 300, {}}, {300, 10, {}}}, 2, 2048, gb8), "");
  EXPECT_EQ(error_of({{784, 3000000, {}}}, 0, 50, 0), "") << "unknown memory: no check";
}

TEST(MemoryCheck, TrainerRefusesBeforeBuilding) {
  auto backend = make_cpu_backend(1);
  TrainOptions o = test::blobs_train_options(1);
  try {
    Trainer t(*backend, make_mlp_spec(8, {1000000, 1000000}, 4, Activation{ActivationKind::kRelu}), OptimizerConfig{},
              o);
    FAIL() << "a model of 10^12 parameters was built";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("1000014000004 parameters"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace graft
