// Over 500 lines: one parity suite of the CUDA backend against the CPU (every
// optimizer, clipping mode, frozen set, schedule and regularizer share its
// fixtures and tolerances).
// The CUDA backend against the CPU reference backend (make_cpu_backend):
// same initial weights, same data, same shuffle, so the same batches.
//
// Tolerances (|gpu - cpu| <= atol + rtol*|cpu|), and why:
//   small nets, every optimizer, 16 steps: atol 3e-5, rtol 3e-4. cuBLAS and
//     OpenBLAS sum the GEMMs' products in different orders (~1e-7 relative).
//     A CPU-only stand-in (1e-7 relative perturbations of the initial
//     weights, 40 seeds x the 18 configurations below) stayed within 2.4e-7,
//     7.3e-6 for Adam (m / sqrt(v) amplifies differences in tiny gradients).
//   the reference network, 200 SGD steps: see the two parity tests (a ReLU
//     pre-activation within rounding distance of zero makes free-running
//     trajectories drift apart; the step-by-step test removes that).
//   GPU graph replay vs GPU eager: bit-identical (same kernels, same cuBLAS
//     calls, deterministic reductions).
//   frozen-layer cache vs recomputing the frozen layers: atol 3e-5, rtol 3e-4
//     (cuBLAS may pick a different kernel for a 64-row chunk than for a
//     13-row batch, so the cached activations can differ by rounding).
//   loss sums: 1e-5 relative; hit counts: +-1 (an argmax within rounding
//     distance of a tie).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/bundle_writer.h"
#include "checkpoint/error.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_backend_options.h"
#include "host/backend.h"
#include "host/model/lr_schedule_spec.h"
#include "tests/common/fixtures.h"
#include "tests/common/layout_check.h"
#include "tests/common/backend_compare.h"
#include "tests/common/small_net.h"
#include "tests/common/tolerance.h"
#include "tests/cuda/gpu_test_util.h"

namespace graft {
namespace {

using test::all_close;
using test::random_floats;

// ---------------------------------------------------------------------------
using test::bit_identical;
using test::expect_totals_close;
using test::load;
using test::make_net;
using test::params_close;
using test::read_params;
using test::read_slots;
using test::train;
using test::Net;
using test::make_teacher_data;
using test::TeacherData;

// GRAFT_CUDA_GRAPHS=0 in the environment (e.g. under compute-sanitizer)
// turns graphs off here too, and GRAFT_CUDA_FUSED=1 runs every suite here
// through the fused step (tools/gpu-check.sh does both); TF32 is always off
// (parity needs FP32).
std::unique_ptr<Backend> gpu(bool graphs = true, bool fused = true) {
  CudaBackendOptions o = CudaBackendOptions::from_env();
  o.use_graphs = o.use_graphs && graphs;
  o.fused_step = o.fused_step && fused;
  o.allow_tf32 = false;
  return make_cuda_backend(o);
}

const Activation kRelu{ActivationKind::kRelu, 0.2f};
const Activation kIdentity{ActivationKind::kIdentity, 0.2f};

// ---------------------------------------------------------------------------
TEST(CudaBackend, NoDeviceGivesClearError) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  EXPECT_TRUE(cuda_compiled());
  EXPECT_NE(cuda_device_summary().find("no CUDA device"), std::string::npos) << cuda_device_summary();
  try {
    make_cuda_backend();
    FAIL() << "make_cuda_backend did not throw without a device";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no usable CUDA device"), std::string::npos) << e.what();
  }
  cuda_profiler_start();  // no-ops without a device
  cuda_profiler_stop();
}

TEST(CudaBackend, DescribesDevice) {
  GRAFT_REQUIRE_CUDA();
  const std::string summary = cuda_device_summary();
  EXPECT_NE(summary.find("sm_"), std::string::npos) << summary;
  auto b = gpu();
  EXPECT_EQ(b->description().rfind("cuda (", 0), 0u) << b->description();
  EXPECT_THROW(make_cuda_backend(cuda_device_count()), Error);
}

// The flat buffers are where the parameter table says (parameter_layout).
TEST(CudaBackend, AllocatesTheTablesLayout) {
  GRAFT_REQUIRE_CUDA();
  test::expect_backend_allocates_table_layout([] { return gpu(); });
}

TEST(CudaBackend, MatchesCpuForEveryOptimizer) {
  GRAFT_REQUIRE_CUDA();
  const TeacherData data = make_teacher_data(101, 13, 5, 11);
  for (const test::OptimizerVariant& v : test::optimizer_variants(true)) {
    SCOPED_TRACE(v.name);
    const OptimizerConfig& config = v.config;
    const Net net = make_net({13, 33, 7, 5}, {v.hidden[0], v.hidden[1], kIdentity}, v.seed);
    auto g = gpu();
    auto c = make_cpu_backend(1);
    load(*g, net, config, 13);
    load(*c, net, config, 13);
    auto gd = g->upload(data.x.data(), data.y.data(), data.rows, data.cols);
    auto cd = c->upload(data.x.data(), data.y.data(), data.rows, data.cols);
    const auto gt = train(*g, *gd, 13, 2, 0, 5);
    const auto ct = train(*c, *cd, 13, 2, 0, 5);
    EXPECT_TRUE(params_close(read_params(*g, net), read_params(*c, net), 3e-5, 3e-4));
    const int slots = static_cast<int>(optimizer_slot_suffixes(config.kind).size());
    EXPECT_TRUE(params_close(read_slots(*g, net, slots), read_slots(*c, net, slots), 3e-5, 3e-4));
    test::expect_scalars_equal(*g, *c);
    for (std::size_t e = 0; e < gt.size(); ++e) expect_totals_close(gt[e], ct[e], 1e-5, 1);
    expect_totals_close(g->evaluate(*gd, 0), c->evaluate(*cd, 0), 1e-5, 1);
  }
}

// The reference setup: 784-300-50-50-50-50-10 ReLU, SGD lr 0.01, clip by
// value 1.0, batch 50; 1990 rows = 39 full batches + one of 40 per epoch,
// 5 epochs = 200 steps.
struct ReferenceSetup {
  Net net = make_net({784, 300, 50, 50, 50, 50, 10}, {kRelu, kRelu, kRelu, kRelu, kRelu, kIdentity}, 2024);
  OptimizerConfig config;
  TeacherData data = make_teacher_data(1990, 784, 10, 77);
  ReferenceSetup() {
    config.kind = OptimizerKind::kSgd;
    config.learning_rate = 0.01f;
    config.clip_value = 1.0f;
  }
};

struct DiffStats {
  double max = 0.0, median = 0.0;
  int64_t outside_strict = 0, total = 0;  // strict: atol 1e-5, rtol 1e-4
};

DiffStats diff_stats(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& ref) {
  DiffStats st;
  std::vector<double> all;
  for (std::size_t i = 0; i < a.size(); ++i) {
    for (std::size_t k = 0; k < a[i].size(); ++k) {
      const double d = std::fabs(static_cast<double>(a[i][k]) - ref[i][k]);
      all.push_back(std::isfinite(d) ? d : 1e30);
      st.outside_strict += d > 1e-5 + 1e-4 * std::fabs(ref[i][k]) ? 1 : 0;
    }
  }
  st.total = static_cast<int64_t>(all.size());
  if (!all.empty()) {
    std::nth_element(all.begin(), all.begin() + all.size() / 2, all.end());
    st.median = all[all.size() / 2];
    st.max = *std::max_element(all.begin(), all.end());
  }
  return st;
}

// Step by step: before every step the GPU gets the CPU's parameters, so each
// step is compared from identical weights and rounding differences cannot
// accumulate. A step's update then agrees to ~1e-8 (lr * the gradients'
// ~1e-6 relative rounding difference); the strict tier (atol 1e-5, rtol
// 1e-4) holds with a wide margin. The rare exception is a ReLU pre-activation
// within ~1e-7 of zero, which can take the other branch on one backend: that
// changes one sample's contribution to a few weight columns by up to
// ~lr * |delta| * x ~ 1e-4. Allowed: at most 3 such steps in 200, each with
// <= 1% of the parameters outside the strict tier and all within atol 1e-3,
// rtol 1e-2. (A CPU-only experiment with 1e-6 relative perturbations before
// every step saw no such step in 5 x 200 steps.) A real bug (wrong batch,
// rule, clipping, scaling) moves every step.
TEST(CudaBackend, ParityWithCpuStepByStep) {
  GRAFT_REQUIRE_CUDA();
  const ReferenceSetup ref;
  auto g = gpu();
  auto c = make_cpu_backend();
  load(*g, ref.net, ref.config, 50);
  load(*c, ref.net, ref.config, 50);
  auto gd = g->upload(ref.data.x.data(), ref.data.y.data(), ref.data.rows, ref.data.cols);
  auto cd = c->upload(ref.data.x.data(), ref.data.y.data(), ref.data.rows, ref.data.cols);
  const int64_t rows = ref.data.rows, batch = 50, steps_per_epoch = (rows + batch - 1) / batch;
  int kink_steps = 0;
  double worst = 0.0;
  for (int64_t step = 0; step < 200; ++step) {
    const int64_t epoch = step / steps_per_epoch, begin = (step % steps_per_epoch) * batch;
    if (begin == 0) {
      g->shuffle(*gd, 42, static_cast<uint64_t>(epoch));
      c->shuffle(*cd, 42, static_cast<uint64_t>(epoch));
    }
    const int64_t n = std::min(batch, rows - begin);
    g->train_step(*gd, begin, n, 0);
    c->train_step(*cd, begin, n, 0);
    const auto gp = read_params(*g, ref.net), cp = read_params(*c, ref.net);
    const DiffStats st = diff_stats(gp, cp);
    worst = std::max(worst, st.max);
    if (st.outside_strict > 0) {
      ++kink_steps;
      std::cout << "[parity step " << step << "] " << st.outside_strict << " of " << st.total
                << " parameters outside atol 1e-5 rtol 1e-4, max |diff| " << st.max << "\n";
      EXPECT_LE(st.outside_strict, st.total / 100) << "step " << step;
      EXPECT_TRUE(params_close(gp, cp, 1e-3, 1e-2)) << "step " << step;
    }
    for (int i = 0; i < g->num_params(); ++i) g->write_param(i, cp[i].data());  // resynchronise
  }
  std::cout << "[parity step by step] max |gpu - cpu| after one step: " << worst << "; steps with a "
            << "difference outside atol 1e-5 rtol 1e-4: " << kink_steps << " of 200\n";
  EXPECT_LE(kink_steps, 3);
  EXPECT_EQ(g->read_scalars().step, 200);
  const auto gt = g->take_train_totals(), ct = c->take_train_totals();
  EXPECT_EQ(gt.samples, 200 * 50 - 5 * 10);
  expect_totals_close(gt, ct, 1e-4, 2);
}

// Free-running: 200 steps each on its own from the same initial weights and
// batches, then the parameters compared, saved as TF checkpoints and read
// back. Without a ReLU-kink event (above) the backends stay within ~1e-6;
// after one, differences spread to every parameter. Measured on the CPU
// with 1e-7/1e-6 relative perturbations of the initial weights (a stand-in
// for the GPU's rounding): about one run in three has such an event, after
// which median |diff| ~2e-5, 99th percentile ~1.5e-4, max ~1.2e-3, epoch
// loss within 1e-4 relative, accuracy within 0.5%. Hence the bounds: every
// parameter within atol 5e-3, rtol 5e-2; median |diff| <= 1e-4; epoch loss
// within 1e-3 relative; hits within 2% of the samples. This catches gross
// errors only (at lr 0.01 the weights move little: even a different batch
// order gives median 6e-5, max 3.5e-3); the step-by-step test above and the
// small-net and kernel tests carry the fine-grained checks.
TEST(CudaBackend, ParityWithCpuOnReferenceNetworkAndCheckpointRoundTrip) {
  GRAFT_REQUIRE_CUDA();
  const ReferenceSetup ref;
  const Net& net = ref.net;
  const TeacherData& data = ref.data;
  auto g = gpu();
  auto c = make_cpu_backend();
  load(*g, net, ref.config, 50);
  load(*c, net, ref.config, 50);
  auto gd = g->upload(data.x.data(), data.y.data(), data.rows, data.cols);
  auto cd = c->upload(data.x.data(), data.y.data(), data.rows, data.cols);
  const auto gt = train(*g, *gd, 50, 5, 0, 42);
  const auto ct = train(*c, *cd, 50, 5, 0, 42);
  EXPECT_EQ(g->read_scalars().step, 200);
  EXPECT_EQ(c->read_scalars().step, 200);
  for (std::size_t e = 0; e < gt.size(); ++e) {
    SCOPED_TRACE("epoch " + std::to_string(e));
    expect_totals_close(gt[e], ct[e], 1e-3, data.rows / 50);
  }

  const auto gp = read_params(*g, net);
  const auto cp = read_params(*c, net);
  const DiffStats st = diff_stats(gp, cp);
  std::cout << "[parity 200 steps] max |gpu - cpu| = " << st.max << ", median " << st.median << "; "
            << st.outside_strict << " of " << st.total << " parameters outside atol 1e-5 rtol 1e-4\n";
  EXPECT_TRUE(params_close(gp, cp, 5e-3, 5e-2));
  EXPECT_LE(st.median, 1e-4);

  // Save both as TF checkpoints, read back.
  test::TempDir dir;
  const std::vector<std::string> names = {"dense", "dense_1", "dense_2", "dense_3", "dense_4", "dense_5"};
  for (const auto& [label, params] : {std::pair{std::string("gpu"), &gp}, std::pair{std::string("cpu"), &cp}}) {
    BundleWriter w((dir / (label + ".ckpt")).string());
    for (std::size_t l = 0; l < net.layers.size(); ++l) {
      const auto& s = net.layers[l];
      w.add_float(names[l] + "/bias", {s.fan_out}, (*params)[2 * l + 1].data());
      w.add_float(names[l] + "/kernel", {s.fan_in, s.fan_out}, (*params)[2 * l].data());
    }
    w.finish();
  }
  const BundleReader rg = BundleReader::open((dir / "gpu.ckpt").string());
  const BundleReader rc = BundleReader::open((dir / "cpu.ckpt").string());
  for (std::size_t l = 0; l < net.layers.size(); ++l) {
    for (const char* part : {"/kernel", "/bias"}) {
      const std::string name = names[l] + part;
      SCOPED_TRACE(name);
      const BundleEntry* eg = rg.find(name);
      const BundleEntry* ec = rc.find(name);
      ASSERT_NE(eg, nullptr);
      ASSERT_NE(ec, nullptr);
      const std::vector<float> vg = rg.read_float(*eg), vc = rc.read_float(*ec);
      const std::size_t idx = 2 * l + (std::string(part) == "/bias" ? 1 : 0);
      EXPECT_TRUE(bit_identical({vg}, {gp[idx]}));  // the round trip itself is exact
      EXPECT_TRUE(bit_identical({vc}, {cp[idx]}));
      EXPECT_TRUE(all_close(vg, vc, 5e-3, 5e-2));
    }
  }
}

TEST(CudaBackend, GraphReplayIsBitIdenticalToEager) {
  GRAFT_REQUIRE_CUDA();
  if (!CudaBackendOptions::from_env().use_graphs) GTEST_SKIP() << "GRAFT_CUDA_GRAPHS=0";
  const Net net = make_net({784, 300, 50, 10}, {kRelu, kRelu, kIdentity}, 9);
  const TeacherData data = make_teacher_data(257, 784, 10, 10);  // batches of 50 and a last one of 7
  for (OptimizerKind kind : {OptimizerKind::kSgd, OptimizerKind::kAdam}) {
    SCOPED_TRACE(optimizer_name(kind));
    OptimizerConfig config;
    config.kind = kind;
    config.learning_rate = 0.01f;
    config.clip_value = 0.5f;
    config.clip_norm = kind == OptimizerKind::kAdam ? 1.0f : 0.0f;
    auto graphs = gpu(true, false);  // this test is about the graph path
    auto eager = gpu(false, false);
    load(*graphs, net, config, 50);
    load(*eager, net, config, 50);
    auto d1 = graphs->upload(data.x.data(), data.y.data(), data.rows, data.cols);
    auto d2 = eager->upload(data.x.data(), data.y.data(), data.rows, data.cols);
    const auto t1 = train(*graphs, *d1, 50, 3, 0, 3);
    const auto t2 = train(*eager, *d2, 50, 3, 0, 3);
    EXPECT_TRUE(bit_identical(read_params(*graphs, net), read_params(*eager, net)));
    const int slots = static_cast<int>(optimizer_slot_suffixes(kind).size());
    EXPECT_TRUE(bit_identical(read_slots(*graphs, net, slots), read_slots(*eager, net, slots)));
    const OptimizerScalars s1 = graphs->read_scalars(), s2 = eager->read_scalars();
    EXPECT_EQ(s1.step, 18);
    EXPECT_EQ(s1.step, s2.step);
    EXPECT_EQ(s1.beta1_power, s2.beta1_power);
    EXPECT_EQ(s1.beta2_power, s2.beta2_power);
    for (std::size_t e = 0; e < t1.size(); ++e) {
      EXPECT_EQ(t1[e].loss_sum, t2[e].loss_sum) << "epoch " << e;
      EXPECT_EQ(t1[e].correct, t2[e].correct) << "epoch " << e;
      EXPECT_EQ(t1[e].samples, 257);
      EXPECT_EQ(t2[e].samples, 257);
    }
    const CudaBackendStats st = cuda_backend_stats(*graphs);
    EXPECT_EQ(st.graph_error, "");
    EXPECT_EQ(st.graph_captures, 2);       // n = 50 and n = 7
    EXPECT_EQ(st.graph_launches, 18 - 2);  // every step but each key's first
    EXPECT_EQ(cuda_backend_stats(*eager).graph_launches, 0);
    EXPECT_EQ(cuda_backend_stats(*eager).eager_steps, 18);
  }
}

// A learning-rate schedule between replays of captured graphs: no
// re-capture, and the same trajectory as the CPU backend given the same
// schedule (the kernels read the rate from the device state).
TEST(CudaBackend, LearningRateChangesBetweenGraphReplays) {
  GRAFT_REQUIRE_CUDA();
  const TeacherData data = make_teacher_data(101, 13, 5, 11);  // batches of 13 and a last one of 10
  for (bool fused : {false, true}) {
    for (OptimizerKind kind : {OptimizerKind::kSgd, OptimizerKind::kMomentum, OptimizerKind::kAdam}) {
      SCOPED_TRACE(optimizer_name(kind) + (fused ? " (fused step when on)" : " (graph path)"));
      OptimizerConfig config;
      config.kind = kind;
      config.learning_rate = kind == OptimizerKind::kAdam ? 0.01f : 0.05f;
      const Net net = make_net({13, 33, 7, 5}, {kRelu, kRelu, kIdentity}, 21);
      auto g = gpu(true, fused);
      auto c = make_cpu_backend(1);
      load(*g, net, config, 13);
      load(*c, net, config, 13);
      auto gd = g->upload(data.x.data(), data.y.data(), data.rows, data.cols);
      auto cd = c->upload(data.x.data(), data.y.data(), data.rows, data.cols);
      int64_t captures = 0;
      // Three epochs at 1, 1/4 and 1/2 of the rate: less travel than the two
      // full-rate epochs of MatchesCpuForEveryOptimizer, so its tolerance holds.
      for (int e = 0; e < 3; ++e) {
        const float lr = config.learning_rate * (e == 0 ? 1.0f : e == 1 ? 0.25f : 0.5f);
        g->set_learning_rate(lr);
        c->set_learning_rate(lr);
        for (Backend* b : {g.get(), c.get()}) {
          DeviceDataset& d = b == g.get() ? *gd : *cd;
          b->shuffle(d, 5, static_cast<uint64_t>(e));
          for (int64_t begin = 0; begin < d.rows(); begin += 13) {
            b->train_step(d, begin, std::min<int64_t>(13, d.rows() - begin), 0);
          }
        }
        if (e == 1) captures = cuda_backend_stats(*g).graph_captures;
      }
      EXPECT_TRUE(params_close(read_params(*g, net), read_params(*c, net), 3e-5, 3e-4));
      const int slots = static_cast<int>(optimizer_slot_suffixes(kind).size());
      EXPECT_TRUE(params_close(read_slots(*g, net, slots), read_slots(*c, net, slots), 3e-5, 3e-4));
      test::expect_scalars_equal(*g, *c);
      const CudaBackendStats st = cuda_backend_stats(*g);
      EXPECT_EQ(st.graph_captures, captures) << "a learning-rate change re-captured a graph";
      if (st.fused_steps == 0 && CudaBackendOptions::from_env().use_graphs) {
        EXPECT_EQ(st.graph_captures, 2);  // n = 13 and n = 10, once each
        EXPECT_GT(st.graph_launches, 0);
      }
    }
  }
}

// Every learning-rate schedule computed on the device from its own global
// step inside the update (graph path and fused step): the CPU's trajectory,
// no re-capture, no set_learning_rate. Tolerance as in
// LearningRateChangesBetweenGraphReplays (powf/expf/cosf on the device may
// differ from glibc's by an ulp or two; the rates stay within 1e-6 relative).
TEST(CudaBackend, LearningRateSchedulesMatchCpu) {
  GRAFT_REQUIRE_CUDA();
  const TeacherData data = make_teacher_data(101, 13, 5, 11);
  for (const char* text : {"exponential:decay_steps=5,decay_rate=0.5,staircase", "inverse_time:decay_steps=4,decay_rate=1",
                           "natural_exp:decay_steps=7,decay_rate=0.3", "polynomial:decay_steps=9,end_lr=0.001,power=2,cycle",
                           "cosine:decay_steps=20,alpha=0.1", "piecewise:boundaries=4/11,values=0.05/0.02/0.005"}) {
    for (bool fused : {false, true}) {
      for (OptimizerKind kind : {OptimizerKind::kSgd, OptimizerKind::kAdam}) {
        SCOPED_TRACE(std::string(text) + " " + optimizer_name(kind) + (fused ? " (fused step when on)" : " (graph path)"));
        OptimizerConfig config;
        config.kind = kind;
        config.learning_rate = kind == OptimizerKind::kAdam ? 0.01f : 0.05f;
        config.schedule = parse_lr_schedule(text);
        const Net net = make_net({13, 33, 7, 5}, {kRelu, kRelu, kIdentity}, 21);
        auto g = gpu(true, fused);
        auto c = make_cpu_backend(1);
        load(*g, net, config, 13);
        load(*c, net, config, 13);
        auto gd = g->upload(data.x.data(), data.y.data(), data.rows, data.cols);
        auto cd = c->upload(data.x.data(), data.y.data(), data.rows, data.cols);
        for (int e = 0; e < 3; ++e) {
          for (Backend* b : {g.get(), c.get()}) {
            DeviceDataset& d = b == g.get() ? *gd : *cd;
            b->shuffle(d, 5, static_cast<uint64_t>(e));
            for (int64_t begin = 0; begin < d.rows(); begin += 13) {
              b->train_step(d, begin, std::min<int64_t>(13, d.rows() - begin), 0);
            }
          }
        }
        EXPECT_TRUE(params_close(read_params(*g, net), read_params(*c, net), 3e-5, 3e-4));
        test::expect_scalars_equal(*g, *c);
        const CudaBackendStats st = cuda_backend_stats(*g);
        if (st.fused_steps == 0 && CudaBackendOptions::from_env().use_graphs) {
          EXPECT_EQ(st.graph_captures, 2);  // n = 13 and n = 10, once each: the schedule needs no re-capture
        }
      }
    }
  }
}

TEST(CudaBackend, TrainTotalsAndEvaluate) {
  GRAFT_REQUIRE_CUDA();
  const Net net = make_net({13, 33, 7, 5}, {kRelu, kRelu, kIdentity}, 4);
  const TeacherData data = make_teacher_data(101, 13, 5, 5);
  OptimizerConfig config;
  auto g = gpu();
  auto c = make_cpu_backend(1);
  load(*g, net, config, 16);
  load(*c, net, config, 16);
  auto gd = g->upload(data.x.data(), data.y.data(), data.rows, data.cols);
  auto cd = c->upload(data.x.data(), data.y.data(), data.rows, data.cols);
  // Evaluate before training: the initial weights on both.
  expect_totals_close(g->evaluate(*gd, 0), c->evaluate(*cd, 0), 1e-5, 1);
  const auto gt = train(*g, *gd, 16, 3, 0, 8);
  const auto ct = train(*c, *cd, 16, 3, 0, 8);
  for (std::size_t e = 0; e < gt.size(); ++e) {
    EXPECT_EQ(gt[e].samples, 101);
    expect_totals_close(gt[e], ct[e], 1e-5, 1);
  }
  const EpochTotals empty = g->take_train_totals();  // reset by the last take
  EXPECT_EQ(empty.samples, 0);
  EXPECT_EQ(empty.loss_sum, 0.0);
  EXPECT_EQ(empty.correct, 0);
  const EpochTotals ge = g->evaluate(*gd, 0), ce = c->evaluate(*cd, 0);
  EXPECT_EQ(ge.samples, 101);
  expect_totals_close(ge, ce, 1e-5, 1);
  // evaluate() does not disturb the training totals.
  EXPECT_EQ(g->take_train_totals().samples, 0);
}

TEST(CudaBackend, FrozenLayerCacheMatchesUncachedPath) {
  GRAFT_REQUIRE_CUDA();
  const Net net = make_net({20, 16, 12, 8, 4},
                           {{ActivationKind::kTanh, 0.2f}, kRelu, {ActivationKind::kElu, 0.2f}, kIdentity}, 6);
  const TeacherData data = make_teacher_data(150, 20, 4, 7);
  OptimizerConfig config;
  config.kind = OptimizerKind::kMomentum;
  config.learning_rate = 0.05f;
  config.clip_norm = 0.5f;
  auto a = gpu();     // recomputes the frozen layers every step
  auto b = gpu();     // trains on the cache from forward_prefix
  auto c = make_cpu_backend(1);  // the CPU's cached path, for reference
  for (Backend* x : {a.get(), b.get(), c.get()}) {
    load(*x, net, config, 64);
    for (int i = 0; i < 4; ++i) x->set_trainable(i, false);  // layers 0 and 1 frozen
  }
  EXPECT_FALSE(a->trainable(0));
  EXPECT_TRUE(a->trainable(4));
  auto raw_a = a->upload(data.x.data(), data.y.data(), data.rows, data.cols);
  auto raw_b = b->upload(data.x.data(), data.y.data(), data.rows, data.cols);
  auto raw_c = c->upload(data.x.data(), data.y.data(), data.rows, data.cols);
  auto cached_b = b->forward_prefix(*raw_b, 2);
  auto cached_c = c->forward_prefix(*raw_c, 2);
  EXPECT_EQ(cached_b->rows(), 150);
  EXPECT_EQ(cached_b->cols(), 12);
  EXPECT_GE(cached_b->bytes(), 150 * 12 * 4);

  // Before training: the same loss whichever way the frozen layers are run.
  expect_totals_close(b->evaluate(*cached_b, 2), a->evaluate(*raw_a, 0), 1e-5, 1);

  const auto ta = train(*a, *raw_a, 13, 3, 0, 9);
  const auto tb = train(*b, *cached_b, 13, 3, 2, 9);
  const auto tc = train(*c, *cached_c, 13, 3, 2, 9);
  const auto pa = read_params(*a, net), pb = read_params(*b, net), pc = read_params(*c, net);
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(bit_identical({pa[i]}, {net.params[i]})) << "frozen parameter " << i << " changed";
    EXPECT_TRUE(bit_identical({pb[i]}, {net.params[i]})) << "frozen parameter " << i << " changed";
  }
  EXPECT_TRUE(params_close(pb, pa, 3e-5, 3e-4));
  EXPECT_TRUE(params_close(pb, pc, 3e-5, 3e-4));
  for (std::size_t e = 0; e < ta.size(); ++e) {
    expect_totals_close(tb[e], ta[e], 1e-5, 1);
    expect_totals_close(tb[e], tc[e], 1e-5, 1);
  }
  EXPECT_EQ(a->read_scalars().step, b->read_scalars().step);
  expect_totals_close(b->evaluate(*cached_b, 2), a->evaluate(*raw_a, 0), 1e-5, 1);

  // k = 0 is a copy.
  auto copy = b->forward_prefix(*raw_b, 0);
  EXPECT_EQ(copy->cols(), 20);
  expect_totals_close(b->evaluate(*copy, 0), b->evaluate(*raw_b, 0), 0.0, 0);
}

TEST(CudaBackend, AllFrozenStillCountsSteps) {
  GRAFT_REQUIRE_CUDA();
  const Net net = make_net({6, 5, 3}, {kRelu, kIdentity}, 12);
  const TeacherData data = make_teacher_data(20, 6, 3, 13);
  OptimizerConfig config;
  config.kind = OptimizerKind::kAdam;
  auto g = gpu();
  auto c = make_cpu_backend(1);
  for (Backend* x : {g.get(), c.get()}) {
    load(*x, net, config, 8);
    for (int i = 0; i < x->num_params(); ++i) x->set_trainable(i, false);
  }
  auto gd = g->upload(data.x.data(), data.y.data(), data.rows, data.cols);
  auto cd = c->upload(data.x.data(), data.y.data(), data.rows, data.cols);
  const auto gt = train(*g, *gd, 8, 2, 0, 1);
  const auto ct = train(*c, *cd, 8, 2, 0, 1);
  EXPECT_TRUE(bit_identical(read_params(*g, net), net.params));
  const OptimizerScalars gs = g->read_scalars(), cs = c->read_scalars();
  EXPECT_EQ(gs.step, 6);
  EXPECT_EQ(gs.step, cs.step);
  EXPECT_FLOAT_EQ(gs.beta1_power, cs.beta1_power);
  for (std::size_t e = 0; e < gt.size(); ++e) expect_totals_close(gt[e], ct[e], 1e-5, 1);
}

TEST(CudaBackend, StateRoundTrips) {
  GRAFT_REQUIRE_CUDA();
  const Net net = make_net({6, 5, 3}, {kRelu, kIdentity}, 14);
  OptimizerConfig config;
  config.kind = OptimizerKind::kRmsProp;
  auto g = gpu();
  load(*g, net, config, 8);
  EXPECT_EQ(g->num_params(), 4);
  EXPECT_TRUE(bit_identical(read_params(*g, net), net.params));
  // Slots start at the optimizer's initial values (rms 1.0, momentum 0).
  std::vector<float> s(5);
  g->read_slot(1, 0, s.data());
  for (float v : s) EXPECT_EQ(v, 1.0f);
  g->read_slot(1, 1, s.data());
  for (float v : s) EXPECT_EQ(v, 0.0f);
  const std::vector<float> custom = {1, 2, 3, 4, 5};
  g->write_slot(1, 1, custom.data());
  g->read_slot(1, 1, s.data());
  EXPECT_EQ(s, custom);
  OptimizerScalars sc;
  sc.step = 1234;
  sc.beta1_power = 0.5f;
  sc.beta2_power = 0.25f;
  g->write_scalars(sc);
  const OptimizerScalars back = g->read_scalars();
  EXPECT_EQ(back.step, 1234);
  EXPECT_EQ(back.beta1_power, 0.5f);
  EXPECT_EQ(back.beta2_power, 0.25f);
}

TEST(CudaBackend, BadArgumentsThrow) {
  GRAFT_REQUIRE_CUDA();
  const Net net = make_net({6, 5, 3}, {kRelu, kIdentity}, 15);
  OptimizerConfig config;  // sgd: no slots
  auto g = gpu();
  std::vector<float> buf(30);
  EXPECT_THROW(g->read_param(0, buf.data()), Error);  // before build
  load(*g, net, config, 8);
  const TeacherData data = make_teacher_data(20, 6, 3, 16);
  auto d = g->upload(data.x.data(), data.y.data(), data.rows, data.cols);
  EXPECT_THROW(g->train_step(*d, 0, 9, 0), Error);    // n > max_batch
  EXPECT_THROW(g->train_step(*d, 15, 8, 0), Error);   // past the end
  EXPECT_THROW(g->train_step(*d, 0, 8, 1), Error);    // 6 columns, layer 1 takes 5
  EXPECT_THROW(g->train_step(*d, 0, 8, 2), Error);    // no layer 2
  EXPECT_THROW(g->read_param(4, buf.data()), Error);
  EXPECT_THROW(g->read_slot(0, 0, buf.data()), Error);  // sgd has no slots
  EXPECT_THROW(g->forward_prefix(*d, 3), Error);
  auto c = make_cpu_backend(1);
  c->build(net.layers, config, 8);
  auto cd = c->upload(data.x.data(), data.y.data(), data.rows, data.cols);
  EXPECT_THROW(g->train_step(*cd, 0, 8, 0), Error);   // a CPU data set
}

}  // namespace
}  // namespace graft
