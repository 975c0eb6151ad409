// The fused training step on the GPU (cuda/fused_step.cu, opt-in with
// GRAFT_CUDA_FUSED=1): the cooperative kernel against its CPU emulator
// (tests/fused/emulator.h, the same functions run sequentially) and against
// the CPU reference backend. The rest of this executable runs through the
// fused step too when GRAFT_CUDA_FUSED=1 is set (tools/gpu-check.sh).
//
// Tolerances (|a - ref| <= atol + rtol*|ref|), and why:
//   GPU vs emulator: atol 1e-6, rtol 1e-5. Both run the same fmaf sequences
//     in the same order, so only expf/logf/tanhf (CUDA's are within 2 ulp of
//     glibc's) can differ; over 2 epochs that stays near 1e-7.
//   GPU vs CPU backend: as for the cuBLAS path (atol 3e-5, rtol 3e-4 on the
//     small nets; step by step on the reference network, see backend_test).
//   grid sizes: bit-identical (the emulator test proves it for the
//     algorithm; this checks the kernel keeps to it).
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "checkpoint/error.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_backend_options.h"
#include "cuda/fused/plan.h"
#include "host/backend.h"
#include "tests/common/backend_compare.h"
#include "tests/common/small_net.h"
#include "tests/cuda/gpu_test_util.h"
#include "tests/fused/emulator.h"

namespace graft {
namespace {

using test::FusedEmulator;
using test::Net;
using test::TeacherData;

const Activation kRelu{ActivationKind::kRelu, 0.2f};
const Activation kIdentity{ActivationKind::kIdentity, 0.2f};

// The fused step with a schedule ("auto", "row-local", "per-layer").
std::unique_ptr<Backend> fused_gpu(const std::string& schedule = "auto") {
  CudaBackendOptions o = CudaBackendOptions::from_env();
  o.fused_step = true;
  o.fused_schedule = schedule;
  o.allow_tf32 = false;
  return make_cuda_backend(o);
}

const char* const kSchedules[] = {"row-local", "per-layer"};

cuda::fused::Schedule schedule_of(const std::string& name) {
  cuda::fused::Schedule s = cuda::fused::Schedule::kAuto;
  EXPECT_TRUE(cuda::fused::parse_schedule(name, &s)) << name;
  return s;
}

// The emulator's version of test::train (same batches, same order).
std::vector<EpochTotals> train_emulator(FusedEmulator& f, int64_t rows, int64_t batch, int epochs,
                                        int first_layer, uint64_t seed) {
  std::vector<EpochTotals> totals;
  for (int e = 0; e < epochs; ++e) {
    f.shuffle(seed, static_cast<uint64_t>(e));
    for (int64_t begin = 0; begin < rows; begin += batch) {
      f.train_step(begin, std::min(batch, rows - begin), first_layer);
    }
    totals.push_back(f.take_train_totals());
  }
  return totals;
}

// Bad settings are errors that name the variable and the value; this needs
// no device (CudaBackendOptions::from_env only reads the environment).
TEST(FusedStep, EnvironmentErrorsNameTheVariable) {
  struct Saved {
    const char* name;
    bool set;
    std::string value;
  };
  std::vector<Saved> saved;
  for (const char* name : {"GRAFT_CUDA_FUSED_BLOCKS", "GRAFT_CUDA_FUSED_SCHEDULE"}) {
    const char* v = std::getenv(name);
    saved.push_back({name, v != nullptr, v ? v : ""});
    unsetenv(name);
  }
  auto error_for = [](const char* name, const char* value) {
    setenv(name, value, 1);
    std::string message;
    try {
      CudaBackendOptions::from_env();
    } catch (const Error& e) {
      message = e.what();
    }
    unsetenv(name);
    return message;
  };
  for (const char* bad : {"abc", "0", "-3", "12x", "99999999999"}) {
    EXPECT_EQ(error_for("GRAFT_CUDA_FUSED_BLOCKS", bad),
              std::string("GRAFT_CUDA_FUSED_BLOCKS=") + bad + ": expected a positive number of blocks");
  }
  EXPECT_EQ(error_for("GRAFT_CUDA_FUSED_SCHEDULE", "rowlocal"),
            "GRAFT_CUDA_FUSED_SCHEDULE=rowlocal: expected auto, row-local or per-layer");
  setenv("GRAFT_CUDA_FUSED_BLOCKS", "66", 1);
  setenv("GRAFT_CUDA_FUSED_SCHEDULE", "per-layer", 1);
  const CudaBackendOptions o = CudaBackendOptions::from_env();
  EXPECT_EQ(o.fused_blocks, 66);
  EXPECT_EQ(o.fused_schedule, "per-layer");
  for (const Saved& s : saved) {
    if (s.set) {
      setenv(s.name, s.value.c_str(), 1);
    } else {
      unsetenv(s.name);
    }
  }
}

TEST(FusedStep, RunsWhenAskedAndSaysWhyNotOtherwise) {
  GRAFT_REQUIRE_CUDA();
  const Net net = test::make_net({13, 33, 7, 5}, {kRelu, kRelu, kIdentity}, 4);
  const TeacherData data = test::make_teacher_data(101, 13, 5, 11);
  OptimizerConfig config;
  config.learning_rate = 0.05f;
  {
    auto g = fused_gpu();
    EXPECT_NE(g->description().find("fused step"), std::string::npos) << g->description();
    test::load(*g, net, config, 13);
    auto d = g->upload(data.x.data(), data.y.data(), data.rows, data.cols);
    test::train(*g, *d, 13, 2, 0, 1);
    const CudaBackendStats st = cuda_backend_stats(*g);
    EXPECT_EQ(st.fused_error, "");
    EXPECT_EQ(st.fused_steps, 2 * 8);  // 7 batches of 13 and one of 10, twice
    EXPECT_EQ(st.graph_launches + st.eager_steps, 0);
    EXPECT_EQ(g->read_scalars().step, 16);
  }
  {
    config.clip_norm = 1.0f;  // global norm: every gradient before any update
    auto g = fused_gpu();
    test::load(*g, net, config, 13);
    auto d = g->upload(data.x.data(), data.y.data(), data.rows, data.cols);
    test::train(*g, *d, 13, 1, 0, 1);
    const CudaBackendStats st = cuda_backend_stats(*g);
    EXPECT_EQ(st.fused_steps, 0);
    EXPECT_NE(st.fused_error.find("global norm"), std::string::npos) << st.fused_error;
    EXPECT_EQ(g->read_scalars().step, 8);
  }
  CudaBackendOptions bad = CudaBackendOptions::from_env();
  bad.fused_schedule = "rowlocal";  // set in code: the constructor checks it too
  try {
    make_cuda_backend(bad);
    ADD_FAILURE() << "an unknown schedule was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("GRAFT_CUDA_FUSED_SCHEDULE=rowlocal"), std::string::npos)
        << e.what();
  }
}

TEST(FusedStep, MatchesEmulatorAndCpuForEveryOptimizer) {
  GRAFT_REQUIRE_CUDA();
  const TeacherData data = test::make_teacher_data(101, 40, 17, 11);
  for (const char* schedule : kSchedules) {
    for (const test::OptimizerVariant& v : test::optimizer_variants(false)) {
      SCOPED_TRACE(v.name + " schedule " + schedule);
      const OptimizerConfig& config = v.config;
      const Net net =
          test::make_net({40, 300, 33, 17}, {v.hidden[0], v.hidden[1], kIdentity}, v.seed);
      auto g = fused_gpu(schedule);
      auto c = make_cpu_backend(1);
      FusedEmulator::Options eo;
      eo.schedule = schedule_of(schedule);
      FusedEmulator e(net.layers, config, 29, eo);
      test::load(*g, net, config, 29);
      test::load(*c, net, config, 29);
      for (int i = 0; i < e.num_params(); ++i) e.write_param(i, net.params[i].data());
      auto gd = g->upload(data.x.data(), data.y.data(), data.rows, data.cols);
      auto cd = c->upload(data.x.data(), data.y.data(), data.rows, data.cols);
      e.upload(data.x.data(), data.y.data(), data.rows, data.cols);
      const auto gt = test::train(*g, *gd, 29, 2, 0, 5);
      const auto ct = test::train(*c, *cd, 29, 2, 0, 5);
      const auto et = train_emulator(e, data.rows, 29, 2, 0, 5);
      EXPECT_EQ(cuda_backend_stats(*g).fused_steps, 8);
      const auto gp = test::read_params(*g, net);
      EXPECT_TRUE(test::params_close(gp, test::read_params(e, net), 1e-6, 1e-5)) << "vs emulator";
      EXPECT_TRUE(test::params_close(gp, test::read_params(*c, net), 3e-5, 3e-4)) << "vs cpu";
      const int slots = static_cast<int>(optimizer_slot_suffixes(config.kind).size());
      EXPECT_TRUE(test::params_close(test::read_slots(*g, net, slots),
                                     test::read_slots(e, net, slots), 1e-6, 1e-5));
      test::expect_scalars_equal(*g, *c);
      for (std::size_t k = 0; k < gt.size(); ++k) {
        test::expect_totals_close(gt[k], et[k], 1e-6, 0);
        test::expect_totals_close(gt[k], ct[k], 1e-5, 1);
      }
    }
  }
}

// The reference setup step by step from the CPU's weights (see
// CudaBackend.ParityWithCpuStepByStep for the ReLU-kink allowance).
TEST(FusedStep, ReferenceNetworkParityStepByStep) {
  GRAFT_REQUIRE_CUDA();
  const Net net = test::make_net({784, 300, 50, 50, 50, 50, 10},
                                 {kRelu, kRelu, kRelu, kRelu, kRelu, kIdentity}, 2024);
  const TeacherData data = test::make_teacher_data(1990, 784, 10, 77);
  OptimizerConfig config;
  config.learning_rate = 0.01f;
  config.clip_value = 1.0f;
  for (const char* schedule : kSchedules) {
    SCOPED_TRACE(schedule);
    auto g = fused_gpu(schedule);
    auto c = make_cpu_backend();
    test::load(*g, net, config, 50);
    test::load(*c, net, config, 50);
    auto gd = g->upload(data.x.data(), data.y.data(), data.rows, data.cols);
    auto cd = c->upload(data.x.data(), data.y.data(), data.rows, data.cols);
    g->shuffle(*gd, 42, 0);
    c->shuffle(*cd, 42, 0);
    int kinks = 0;
    for (int64_t step = 0; step < 39; ++step) {
      g->train_step(*gd, step * 50, 50, 0);
      c->train_step(*cd, step * 50, 50, 0);
      const auto gp = test::read_params(*g, net), cp = test::read_params(*c, net);
      if (!test::params_close(gp, cp, 1e-5, 1e-4)) {
        ++kinks;
        EXPECT_TRUE(test::params_close(gp, cp, 1e-3, 1e-2)) << "step " << step;
      }
      for (int i = 0; i < g->num_params(); ++i) g->write_param(i, cp[i].data());
    }
    EXPECT_LE(kinks, 2);
    EXPECT_EQ(cuda_backend_stats(*g).fused_steps, 39);
    test::expect_totals_close(g->take_train_totals(), c->take_train_totals(), 1e-5, 2);
  }
}

// Frozen lower layers, and the frozen-layer cache's first_layer > 0.
TEST(FusedStep, FrozenLayersAndFirstLayer) {
  GRAFT_REQUIRE_CUDA();
  const Net net = test::make_net({13, 33, 7, 9, 5}, {kRelu, kRelu, kRelu, kIdentity}, 21);
  const TeacherData data = test::make_teacher_data(57, 7, 5, 8);  // layer-2 inputs
  OptimizerConfig config;
  config.kind = OptimizerKind::kAdam;
  config.learning_rate = 0.01f;
  auto g = fused_gpu();
  auto c = make_cpu_backend(1);
  test::load(*g, net, config, 10);
  test::load(*c, net, config, 10);
  g->set_trainable(5, false);
  c->set_trainable(5, false);
  auto gd = g->upload(data.x.data(), data.y.data(), data.rows, data.cols);
  auto cd = c->upload(data.x.data(), data.y.data(), data.rows, data.cols);
  const auto gt = test::train(*g, *gd, 10, 2, 2, 1);
  const auto ct = test::train(*c, *cd, 10, 2, 2, 1);
  const auto gp = test::read_params(*g, net);
  EXPECT_TRUE(test::params_close(gp, test::read_params(*c, net), 3e-5, 3e-4));
  for (int i : {0, 1, 2, 3, 5}) EXPECT_EQ(gp[i], net.params[i]) << "parameter " << i << " moved";
  for (std::size_t k = 0; k < gt.size(); ++k) test::expect_totals_close(gt[k], ct[k], 1e-5, 1);
  EXPECT_EQ(cuda_backend_stats(*g).fused_steps, 12);

  // Only the logits layer trains: the schedule's last phase updates just it.
  auto g2 = fused_gpu();
  auto c2 = make_cpu_backend(1);
  test::load(*g2, net, config, 10);
  test::load(*c2, net, config, 10);
  for (int i = 0; i < 6; ++i) {
    g2->set_trainable(i, false);
    c2->set_trainable(i, false);
  }
  auto gd2 = g2->upload(data.x.data(), data.y.data(), data.rows, data.cols);
  auto cd2 = c2->upload(data.x.data(), data.y.data(), data.rows, data.cols);
  test::train(*g2, *gd2, 10, 2, 2, 1);
  test::train(*c2, *cd2, 10, 2, 2, 1);
  EXPECT_TRUE(
      test::params_close(test::read_params(*g2, net), test::read_params(*c2, net), 3e-5, 3e-4));
  EXPECT_EQ(cuda_backend_stats(*g2).fused_steps, 12);
}

TEST(FusedStep, GridSizeDoesNotChangeResults) {
  GRAFT_REQUIRE_CUDA();
  const Net net = test::make_net({29, 40, 19, 11}, {kRelu, kRelu, kIdentity}, 5);
  const TeacherData data = test::make_teacher_data(61, 29, 11, 6);
  OptimizerConfig config;
  config.kind = OptimizerKind::kRmsProp;
  config.learning_rate = 0.01f;
  const char* saved = std::getenv("GRAFT_CUDA_FUSED_BLOCKS");
  const std::string saved_value = saved ? saved : "";
  for (const char* schedule : kSchedules) {
    SCOPED_TRACE(schedule);
    std::vector<std::vector<std::vector<float>>> results;
    std::vector<EpochTotals> totals;
    for (const char* blocks : {"1", "5", ""}) {
      setenv("GRAFT_CUDA_FUSED_BLOCKS", blocks, 1);  // read by from_env
      auto g = fused_gpu(schedule);
      test::load(*g, net, config, 16);
      auto d = g->upload(data.x.data(), data.y.data(), data.rows, data.cols);
      totals.push_back(test::train(*g, *d, 16, 2, 0, 3).back());
      results.push_back(test::read_params(*g, net));
    }
    for (std::size_t i = 1; i < results.size(); ++i) {
      EXPECT_TRUE(test::bit_identical(results[i], results[0])) << "variant " << i;
      EXPECT_EQ(totals[i].loss_sum, totals[0].loss_sum);
      EXPECT_EQ(totals[i].correct, totals[0].correct);
    }
  }
  if (saved) {
    setenv("GRAFT_CUDA_FUSED_BLOCKS", saved_value.c_str(), 1);
  } else {
    unsetenv("GRAFT_CUDA_FUSED_BLOCKS");
  }
}

}  // namespace
}  // namespace graft
