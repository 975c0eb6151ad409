// The CUDA backend's dropout nodes and the graph machinery around batch norm
// and dropout: the kept/dropped pattern of every step is the CPU's, bit for
// bit, and TF's rule on host/math/counter_rng.h; a replayed CUDA graph draws
// the mask of each new step (the step is read from device state) and a new
// dropout seed drops the captured graphs; graph replay and eager steps give
// the same bits on batch-norm + dropout networks; what build() refuses, and
// why the fused step leaves these networks to the graph path. Label gpu:
// every test skips without a device (written without one; first run pending
// a GPU session).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "checkpoint/error.h"
#include "cuda/cuda_backend_options.h"
#include "host/backend.h"
#include "host/math/counter_rng.h"
#include "tests/common/backend_compare.h"
#include "tests/common/bn_parity_net.h"
#include "tests/common/expect_contains.h"
#include "tests/cuda/backend_nodes_util.h"
#include "tests/cuda/gpu_test_util.h"

namespace graft {
namespace {

using test::Net;
using test::read_params;

// in (16, one-hot rows) -> dense(32, linear) -> dropout(0.5) -> dense(4).
// Row r of the data is e_r and the order is the identity, so batch row r
// is data row r, and with SGD at lr 1 the first kernel's row r moves by
// exactly sample r's gradient at the dropout's output: dW0[r][j] = dh[r][j]
// (a sum of products with one 1 and zeros is exact in any order), zero
// exactly where unit j of row r was dropped and non-zero (|dh| ~ 1e-2, far
// above an ulp of |W0| < 0.4) where it was kept. So W0's changed entries
// are the step's kept pattern.
struct MaskProbe {
  static constexpr int64_t kRows = 16, kWidth = 32;
  static constexpr float kRate = 0.5f;
  Net net = test::bn_net({{kRows, kWidth, test::kBnIdentity}, test::dropout_node(kWidth, kRate),
                          {kWidth, 4, test::kBnIdentity}},
                         77);
  test::TeacherData data;
  MaskProbe() {
    data.rows = kRows;
    data.cols = kRows;
    data.x.assign(static_cast<std::size_t>(kRows * kRows), 0.0f);
    for (int64_t r = 0; r < kRows; ++r) {
      data.x[static_cast<std::size_t>(r * kRows + r)] = 1.0f;
      data.y.push_back(static_cast<int32_t>(r % 4));
    }
  }
  static OptimizerConfig sgd() {
    OptimizerConfig c;
    c.kind = OptimizerKind::kSgd;
    c.learning_rate = 1.0f;
    return c;
  }
  // TF's rule on the counter RNG: unit (r, j) of node 1 kept at this step.
  static std::vector<bool> expected(uint64_t seed, uint64_t step) {
    std::vector<bool> kept;
    for (uint32_t r = 0; r < kRows; ++r) {
      for (uint32_t j = 0; j < kWidth; ++j) {
        kept.push_back(math::dropout_keeps(math::counter_uniform(seed, step, 1u, r, j), kRate));
      }
    }
    return kept;
  }
};

// One training step of the probe on `b`, returning the kept pattern.
std::vector<bool> probe_step(Backend& b, const DeviceDataset& d) {
  std::vector<float> before(static_cast<std::size_t>(MaskProbe::kRows * MaskProbe::kWidth)), after(before.size());
  b.read_param(0, before.data());
  b.train_step(d, 0, MaskProbe::kRows, 0);
  b.read_param(0, after.data());
  std::vector<bool> kept;
  for (std::size_t i = 0; i < before.size(); ++i) kept.push_back(before[i] != after[i]);
  return kept;
}

int64_t count_kept(const std::vector<bool>& kept) {
  int64_t n = 0;
  for (bool k : kept) n += k ? 1 : 0;
  return n;
}

// Eight steps on a graph-replaying GPU backend, an eager one and the CPU:
// each step's pattern is TF's rule for that step on all three (step 0 runs
// eagerly, step 1 is captured, steps 2-5 are replays), a new seed at step 6
// draws that seed's masks (the captured graphs, which carry the seed, are
// dropped), and the two GPU backends end bit-identical.
TEST(CudaDropoutBackend, MasksAreTheCpusAndNewOnEveryReplayedStep) {
  GRAFT_REQUIRE_CUDA();
  const MaskProbe probe;
  auto g = test::gpu_on("fused", true);
  auto e = test::gpu_on("fused", false);
  auto c = make_cpu_backend(1);
  std::vector<std::unique_ptr<DeviceDataset>> data;
  for (Backend* b : {g.get(), e.get(), c.get()}) {
    test::load(*b, probe.net, MaskProbe::sgd(), MaskProbe::kRows);
    b->set_dropout_seed(1234);
    data.push_back(b->upload(probe.data.x.data(), probe.data.y.data(), probe.data.rows, probe.data.cols));
  }
  const bool graphs = CudaBackendOptions::from_env().use_graphs;
  std::vector<bool> previous;
  uint64_t seed = 1234;
  for (uint64_t step = 0; step < 8; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    if (step == 6) {
      seed = 4321;
      for (Backend* b : {g.get(), e.get(), c.get()}) b->set_dropout_seed(seed);
    }
    const std::vector<bool> want = MaskProbe::expected(seed, step);
    const int64_t kept = count_kept(want);
    ASSERT_GT(kept, 0);
    ASSERT_LT(kept, MaskProbe::kRows * MaskProbe::kWidth);
    EXPECT_EQ(probe_step(*c, *data[2]), want) << "the CPU's mask";
    EXPECT_EQ(probe_step(*g, *data[0]), want) << "the GPU's mask (graphs)";
    EXPECT_EQ(probe_step(*e, *data[1]), want) << "the GPU's mask (eager)";
    EXPECT_NE(want, previous) << "two steps drew the same mask";
    previous = want;
  }
  EXPECT_EQ(g->read_scalars().step, 8);
  if (graphs) {
    const CudaBackendStats st = cuda_backend_stats(*g);
    EXPECT_EQ(st.graph_error, "");
    EXPECT_GE(st.graph_launches, 4) << "steps 2-5 replay the graph captured at step 1";
    EXPECT_GE(st.graph_captures, 2) << "the new seed is captured anew";
  }
  EXPECT_TRUE(test::bit_identical(read_params(*g, probe.net), read_params(*e, probe.net)));
}

// Graph replay against eager steps on the deep batch-norm + dropout
// network, Adam with clipping by value and by global norm: bit-identical
// parameters (moving statistics included), slots, scalars and totals (the
// same kernels and library calls in the same order; graft's reductions are
// deterministic, and cuDNN's per-activation batch norm is assumed to be:
// to be confirmed on a device).
TEST(CudaDropoutBackend, GraphReplayIsBitIdenticalToEagerWithBatchNormAndDropout) {
  GRAFT_REQUIRE_CUDA();
  if (!CudaBackendOptions::from_env().use_graphs) GTEST_SKIP() << "GRAFT_CUDA_GRAPHS=0";
  const test::BnTrainingSetup s;
  for (const std::string& path : test::bn_paths()) {
    for (float clip_norm : {0.0f, 1.0f}) {
      SCOPED_TRACE(path + (clip_norm > 0 ? ", clip by global norm" : ""));
      OptimizerConfig config;
      config.kind = OptimizerKind::kAdam;
      config.learning_rate = 0.01f;
      config.clip_value = 0.5f;
      config.clip_norm = clip_norm;
      auto graphs = test::gpu_on(path, true);
      auto eager = test::gpu_on(path, false);
      std::vector<std::unique_ptr<DeviceDataset>> data;
      for (Backend* b : {graphs.get(), eager.get()}) {
        test::load(*b, s.net, config, s.batch);
        b->set_dropout_seed(s.dropout_seed);
        data.push_back(b->upload(s.data.x.data(), s.data.y.data(), s.data.rows, s.data.cols));
      }
      const auto t1 = test::train(*graphs, *data[0], s.batch, 2, 0, s.shuffle_seed);
      const auto t2 = test::train(*eager, *data[1], s.batch, 2, 0, s.shuffle_seed);
      EXPECT_TRUE(test::bit_identical(read_params(*graphs, s.net), read_params(*eager, s.net)));
      EXPECT_TRUE(test::bit_identical(test::read_slots(*graphs, s.net, 2), test::read_slots(*eager, s.net, 2)));
      const OptimizerScalars a = graphs->read_scalars(), b = eager->read_scalars();
      EXPECT_EQ(a.step, 80);
      EXPECT_EQ(a.step, b.step);
      EXPECT_EQ(a.beta1_power, b.beta1_power);
      EXPECT_EQ(a.beta2_power, b.beta2_power);
      for (std::size_t ep = 0; ep < t1.size(); ++ep) {
        EXPECT_EQ(t1[ep].loss_sum, t2[ep].loss_sum) << "epoch " << ep;
        EXPECT_EQ(t1[ep].correct, t2[ep].correct) << "epoch " << ep;
      }
      const CudaBackendStats st = cuda_backend_stats(*graphs);
      EXPECT_EQ(st.graph_error, "");
      EXPECT_GT(st.graph_launches, 70);  // 2 keys (32 and 23 rows), each eager once and captured once
    }
  }
}

// What build() refuses, in one line naming the node and the way out; what
// it runs. The refusals need no device in principle, but make_cuda_backend
// does (tests/host/cuda_node_walk_test.cc checks the messages without one).
TEST(CudaDropoutBackend, BuildRefusesOnlyWhatItCannotRun) {
  GRAFT_REQUIRE_CUDA();
  const std::vector<DenseLayerShape> layers = test::bn_case_layers(test::bn_cases()[0], 13, 16, 5);
  OptimizerConfig config;
  auto fused = test::gpu_on("fused");
  EXPECT_NO_THROW(fused->build(layers, config, 16));
  auto cudnn = test::gpu_on("cudnn");
  if (!cuda::cudnn_compiled_in()) {
    try {
      cudnn->build(layers, config, 16);
      ADD_FAILURE() << "a build without cuDNN ran batch norm on the cuDNN path";
    } catch (const Error& e) {
      EXPECT_CONTAINS(e.what(), "batch_norm node 1");
      EXPECT_CONTAINS(e.what(), "-DGRAFT_WITH_CUDNN=ON");
    }
    EXPECT_NO_THROW(cudnn->build({layers[0], layers[2], layers[3]}, config, 16));  // dropout needs no cuDNN
    return;
  }
  EXPECT_NO_THROW(cudnn->build(layers, config, 16));
  std::vector<DenseLayerShape> tiny = layers;
  tiny[1].batch_norm.epsilon = 1e-6f;  // below CUDNN_BN_MIN_EPSILON
  try {
    cudnn->build(tiny, config, 16);
    ADD_FAILURE() << "cuDNN accepted epsilon 1e-6";
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "batch_norm node 1 has epsilon 1e-06");
    EXPECT_CONTAINS(e.what(), "--cuda-batch-norm fused");
  }
  EXPECT_NO_THROW(fused->build(tiny, config, 16));
}

// The fused step (GRAFT_CUDA_FUSED=1) runs dense stacks only: a batch-norm
// network takes the graph path and the reason is recorded, as for any
// configuration the fused step does not run.
TEST(CudaDropoutBackend, FusedStepLeavesBatchNormToTheGraphPath) {
  GRAFT_REQUIRE_CUDA();
  const test::BnTrainingSetup s;
  CudaBackendOptions o = CudaBackendOptions::from_env();
  o.fused_step = true;
  o.allow_tf32 = false;
  o.batch_norm = "fused";
  auto g = make_cuda_backend(o);
  test::load(*g, s.net, s.config, s.batch);
  auto d = g->upload(s.data.x.data(), s.data.y.data(), s.data.rows, s.data.cols);
  g->train_step(*d, 0, s.batch, 0);
  const CudaBackendStats st = cuda_backend_stats(*g);
  EXPECT_EQ(st.fused_steps, 0);
  EXPECT_CONTAINS(st.fused_error, "the fused step runs dense layers only (this model has a batch_norm node)");
  EXPECT_EQ(g->read_scalars().step, 1);
}

}  // namespace
}  // namespace graft
