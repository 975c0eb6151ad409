// The fused training step's algorithm (cuda/fused/program.h), run by the CPU
// emulator of the cooperative kernel, against the CPU reference backend.
//
// Tolerances (|fused - cpu| <= atol + rtol*|cpu|), and why:
//   small nets, every optimizer, 2 epochs: atol 3e-5, rtol 3e-4, as for the
//     cuBLAS backend (tests/cuda/backend_test.cc): the fused step sums its
//     dot products in K slices with fmaf, OpenBLAS in its own blocked
//     order, so gradients differ by ~1e-7 relative (Adam amplifies tiny
//     gradients' differences most).
//   the reference network, step by step from the CPU's weights: atol 1e-5,
//     rtol 1e-4 per step, except the rare ReLU kink (see the GPU parity
//     test), allowed on at most 1 of the steps here.
//   grid size and run order: bit-identical. Every work item of a phase
//     computes its outputs from memory no other item of that phase writes,
//     and every reduction has a fixed order, so nothing may change.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "cuda/fused/plan.h"
#include "host/backend.h"
#include "tests/common/backend_compare.h"
#include "tests/common/small_net.h"
#include "tests/common/tolerance.h"
#include "tests/fused/emulator.h"

namespace graft::cuda::fused {
// How gtest prints a schedule parameter (found by argument-dependent lookup).
inline void PrintTo(Schedule s, std::ostream* os) {
  *os << (s == Schedule::kRowLocal ? "row-local" : s == Schedule::kPerLayer ? "per-layer" : "auto");
}
}  // namespace graft::cuda::fused

namespace graft {
namespace {

using cuda::fused::Phase;
using cuda::fused::PhaseKind;
using cuda::fused::Program;
using cuda::fused::Schedule;
using test::all_close;
using test::FusedEmulator;

const Activation kRelu{ActivationKind::kRelu, 0.2f};
const Activation kIdentity{ActivationKind::kIdentity, 0.2f};

using test::expect_totals_close;
using test::make_net;
using test::params_close;
using test::read_params;
using test::Net;
using test::make_teacher_data;
using test::TeacherData;

// The CPU backend and the emulator side by side, same weights and data.
struct Pair {
  std::unique_ptr<Backend> cpu = make_cpu_backend(1);
  std::unique_ptr<DeviceDataset> cpu_data;
  std::unique_ptr<FusedEmulator> fused;

  Pair(const Net& net, const OptimizerConfig& config, int64_t max_batch, const TeacherData& data,
       FusedEmulator::Options options = {}) {
    cpu->build(net.layers, config, max_batch);
    fused = std::make_unique<FusedEmulator>(net.layers, config, max_batch, options);
    for (int i = 0; i < cpu->num_params(); ++i) {
      cpu->write_param(i, net.params[i].data());
      fused->write_param(i, net.params[i].data());
    }
    cpu_data = cpu->upload(data.x.data(), data.y.data(), data.rows, data.cols);
    fused->upload(data.x.data(), data.y.data(), data.rows, data.cols);
  }
  void freeze(int index) {
    cpu->set_trainable(index, false);
    fused->set_trainable(index, false);
  }
  // The trainer's loop: shuffle per epoch, batches from 0, a short last one.
  void train(int64_t batch, int epochs, int first_layer, uint64_t seed,
             std::vector<EpochTotals>* cpu_totals, std::vector<EpochTotals>* fused_totals) {
    const int64_t rows = cpu_data->rows();
    for (int e = 0; e < epochs; ++e) {
      cpu->shuffle(*cpu_data, seed, static_cast<uint64_t>(e));
      fused->shuffle(seed, static_cast<uint64_t>(e));
      for (int64_t begin = 0; begin < rows; begin += batch) {
        const int64_t n = std::min(batch, rows - begin);
        cpu->train_step(*cpu_data, begin, n, first_layer);
        fused->train_step(begin, n, first_layer);
      }
      cpu_totals->push_back(cpu->take_train_totals());
      fused_totals->push_back(fused->take_train_totals());
    }
  }
};

// ---------------------------------------------------------------------------
// The schedule's invariants, for any depth and trainable set: every layer
// from the lowest trainable one up is updated exactly once (frozen tensors
// are skipped inside), in a phase after the last one that reads its kernel
// (its forward or input-gradient phase; the row-local phase reads every
// kernel above layer 0), and nothing below the lowest trainable layer is
// updated. Per-layer: input-gradient phases from the top down to just above
// the lowest trainable layer.
void check_schedule(const Program& p, int lowest) {
  const int L = p.num_layers;
  std::vector<int> updated_in(L, -1);
  std::vector<int> last_read(L, -1);
  int input_grads = 0;
  for (int i = 0; i < p.num_phases; ++i) {
    const Phase& ph = p.phases[i];
    if (ph.kind == PhaseKind::kRowLocal) {
      for (int l = 1; l < L; ++l) last_read[l] = i;
    } else if (ph.kind != PhaseKind::kUpdates) {
      last_read[ph.layer] = i;
    }
    input_grads += ph.kind == PhaseKind::kInputGrad ? 1 : 0;
    for (int u = ph.update_first; u >= 0 && u <= ph.update_last; ++u) {
      ASSERT_LT(u, L);
      ASSERT_EQ(updated_in[u], -1) << "layer " << u << " updated twice";
      updated_in[u] = i;
    }
  }
  ASSERT_EQ(p.phases[p.num_phases - 1].kind, PhaseKind::kUpdates);
  for (int l = 0; l < L; ++l) {
    if (lowest >= 0 && l >= lowest) {
      EXPECT_GT(updated_in[l], last_read[l]) << "layer " << l << " updated before its last read";
    } else {
      EXPECT_EQ(updated_in[l], -1) << "layer " << l << " below the lowest trainable one";
    }
  }
  if (!p.row_local) EXPECT_EQ(input_grads, lowest < 0 ? 0 : L - 1 - lowest);
}

TEST(FusedPlan, ReferenceNetworkSchedules) {
  Program p;
  p.num_layers = 6;
  cuda::fused::plan_phases(p, 0, Schedule::kPerLayer);
  // F0..F4, logits, B5..B1, U: 12 phases, 11 grid barriers.
  ASSERT_EQ(p.num_phases, 12);
  for (int l = 0; l < 5; ++l) EXPECT_EQ(p.phases[l].kind, PhaseKind::kForward);
  EXPECT_EQ(p.phases[5].kind, PhaseKind::kForwardLogits);
  EXPECT_EQ(p.phases[6].layer, 5);
  EXPECT_LT(p.phases[6].update_first, 0);  // W5 is still being read
  EXPECT_EQ(p.phases[7].update_first, 5);
  EXPECT_EQ(p.phases[11].update_first, 0);
  EXPECT_EQ(p.phases[11].update_last, 1);
  check_schedule(p, 0);

  // Row-local: F0, everything row-independent, all updates: 2 barriers.
  const Net net = make_net({784, 300, 50, 50, 50, 50, 10},
                           {kRelu, kRelu, kRelu, kRelu, kRelu, kIdentity}, 1);
  const std::vector<bool> trainable(12, true);
  const std::vector<cuda::fused::LayerMemory> memory(6);
  Program q = cuda::fused::make_program(net.layers, 0, trainable, OptimizerConfig{}, memory, nullptr,
                                        nullptr, nullptr);  // kAuto
  ASSERT_TRUE(q.row_local);
  ASSERT_EQ(q.num_phases, 3);
  EXPECT_EQ(q.phases[0].kind, PhaseKind::kForward);
  EXPECT_EQ(q.phases[1].kind, PhaseKind::kRowLocal);
  EXPECT_EQ(q.phases[2].update_first, 0);
  EXPECT_EQ(q.phases[2].update_last, 5);
  check_schedule(q, 0);
  // Substeps of a row-local task: 2 per forward layer 1..5, softmax and loss
  // sum, then 2 per input gradient, layer 1's in two chunks of 256 columns.
  EXPECT_EQ(cuda::fused::row_local_substeps(q), 5 * 2 + 2 + 4 * 2 + 4);

  // Wide layers above the first: kAuto goes per layer.
  const Net wide = make_net({784, 1024, 1024, 10}, {kRelu, kRelu, kIdentity}, 1);
  EXPECT_FALSE(cuda::fused::make_program(wide.layers, 0, std::vector<bool>(6, true), OptimizerConfig{},
                                         std::vector<cuda::fused::LayerMemory>(3), nullptr, nullptr,
                                         nullptr)
                   .row_local);
}

TEST(FusedPlan, InvariantsForEveryDepthAndLowestLayer) {
  for (Schedule schedule : {Schedule::kPerLayer, Schedule::kRowLocal}) {
    for (int L = 1; L <= cuda::fused::kMaxLayers; ++L) {
      for (int lowest = -1; lowest < L; ++lowest) {
        SCOPED_TRACE("layers " + std::to_string(L) + " lowest " + std::to_string(lowest) +
                     (schedule == Schedule::kRowLocal ? " row-local" : " per-layer"));
        Program p;
        p.num_layers = L;
        cuda::fused::plan_phases(p, lowest, schedule);
        ASSERT_LE(p.num_phases, cuda::fused::kMaxPhases);
        EXPECT_EQ(p.row_local, schedule == Schedule::kRowLocal && L >= 2);
        check_schedule(p, lowest);
      }
    }
  }
}

TEST(FusedPlan, SaysWhatItCannotRun) {
  const Net net = make_net({4, 3, 2}, {kRelu, kIdentity}, 1);
  OptimizerConfig config;
  EXPECT_EQ(cuda::fused::unsupported_reason(net.layers, 0, config, 64), "");
  config.clip_norm = 1.0f;
  EXPECT_NE(cuda::fused::unsupported_reason(net.layers, 0, config, 64).find("global norm"),
            std::string::npos);
  config.clip_norm = 0.0f;
  const Net wide = make_net({4, 3, 300}, {kRelu, kIdentity}, 1);
  EXPECT_NE(cuda::fused::unsupported_reason(wide.layers, 0, config, 64).find("classes"),
            std::string::npos);
  std::vector<int64_t> dims(cuda::fused::kMaxLayers + 2, 3);
  std::vector<Activation> acts(dims.size() - 1, kRelu);
  const Net deep = make_net(dims, acts, 1);
  EXPECT_NE(cuda::fused::unsupported_reason(deep.layers, 0, config, 64).find("layers"),
            std::string::npos);
  EXPECT_EQ(cuda::fused::unsupported_reason(deep.layers, 2, config, 64), "");
}

// The fused program takes which gradients each layer computes, and where
// its updates begin, from the step plan (host/step_plan.h) that the CPU
// backend and the graph path walk: an edited plan changes the program.
TEST(FusedPlan, WalksTheStepPlan) {
  const Net net = make_net({6, 5, 4, 3}, {kRelu, kRelu, kIdentity}, 1);
  const ParameterLayout layout = parameter_layout(net.layers);
  // hidden1 frozen, hidden2's kernel frozen (its bias trains), the head trains.
  std::vector<bool> trainable(6, true);
  trainable[static_cast<std::size_t>(layout.kernel(0))] = false;
  trainable[static_cast<std::size_t>(layout.bias(0))] = false;
  trainable[static_cast<std::size_t>(layout.kernel(1))] = false;
  StepPlan plan = plan_step(layout, trainable, 0, false);
  const std::vector<cuda::fused::LayerMemory> memory(3);
  Program p = cuda::fused::make_program(net.layers, plan, OptimizerConfig{}, memory, nullptr, nullptr, nullptr,
                                        Schedule::kPerLayer);
  EXPECT_EQ(p.lowest, 1);
  EXPECT_FALSE(p.layers[0].train_w || p.layers[0].train_b);
  EXPECT_FALSE(p.layers[1].train_w);
  EXPECT_TRUE(p.layers[1].train_b);
  EXPECT_TRUE(p.layers[2].train_w && p.layers[2].train_b);
  check_schedule(p, 1);

  // The same plan from a frozen-layer cache's first node: local layers shift.
  plan = plan_step(layout, trainable, 1, false);
  p = cuda::fused::make_program(net.layers, plan, OptimizerConfig{}, memory, nullptr, nullptr, nullptr,
                                Schedule::kPerLayer);
  EXPECT_EQ(p.num_layers, 2);
  EXPECT_EQ(p.lowest, 0);
  EXPECT_TRUE(p.layers[0].train_b);
  EXPECT_FALSE(p.layers[0].train_w);

  // A plan that applies its updates after every gradient is not the fused step's.
  EXPECT_NE(cuda::fused::unsupported_reason(net.layers, plan_step(layout, trainable, 0, true), 64).find("global norm"),
            std::string::npos);
  plan.fused_updates = false;
  plan.global_norm = false;
  EXPECT_NE(cuda::fused::unsupported_reason(net.layers, plan, 64).find("after every gradient"), std::string::npos);
}

TEST(FusedPlan, ParsesScheduleNames) {
  Schedule s = Schedule::kAuto;
  EXPECT_TRUE(cuda::fused::parse_schedule("row-local", &s));
  EXPECT_EQ(s, Schedule::kRowLocal);
  EXPECT_TRUE(cuda::fused::parse_schedule("per-layer", &s));
  EXPECT_EQ(s, Schedule::kPerLayer);
  EXPECT_TRUE(cuda::fused::parse_schedule("auto", &s));
  EXPECT_EQ(s, Schedule::kAuto);
  EXPECT_FALSE(cuda::fused::parse_schedule("rowlocal", &s));
  EXPECT_FALSE(cuda::fused::parse_schedule("", &s));
}

// ---------------------------------------------------------------------------
// The emulator tests run under both schedules.
class FusedEmulatorTest : public ::testing::TestWithParam<Schedule> {
 protected:
  FusedEmulator::Options options(int blocks = 7, bool reversed = false) const {
    FusedEmulator::Options o;
    o.blocks = blocks;
    o.reversed = reversed;
    o.schedule = GetParam();
    return o;
  }
};

INSTANTIATE_TEST_SUITE_P(Schedules, FusedEmulatorTest,
                         ::testing::Values(Schedule::kPerLayer, Schedule::kRowLocal),
                         [](const ::testing::TestParamInfo<Schedule>& info) {
                           return info.param == Schedule::kRowLocal ? "RowLocal" : "PerLayer";
                         });

TEST_P(FusedEmulatorTest, MatchesCpuForEveryOptimizerAndActivation) {
  const TeacherData data = make_teacher_data(101, 13, 5, 11);
  for (const test::OptimizerVariant& v : test::optimizer_variants(false)) {
    SCOPED_TRACE(v.name);
    const Net net = make_net({13, 33, 7, 5}, {v.hidden[0], v.hidden[1], kIdentity}, v.seed);
    Pair pair(net, v.config, 13, data, options());
    std::vector<EpochTotals> ct, ft;
    pair.train(13, 2, 0, 5, &ct, &ft);
    EXPECT_TRUE(params_close(read_params(*pair.fused, net), read_params(*pair.cpu, net), 3e-5, 3e-4));
    const int slots = static_cast<int>(optimizer_slot_suffixes(v.config.kind).size());
    EXPECT_TRUE(params_close(test::read_slots(*pair.fused, net, slots),
                             test::read_slots(*pair.cpu, net, slots), 3e-5, 3e-4));
    test::expect_scalars_equal(*pair.fused, *pair.cpu);
    for (std::size_t e = 0; e < ct.size(); ++e) expect_totals_close(ft[e], ct[e], 1e-5, 1);
  }
}

// Odd shapes: widths 1, 7, 17 (a 32-column logits tile), 33, 200 classes (a
// 256-column tile, 1 slice), one class (loss 0), batches of 1 and 7 rows.
TEST_P(FusedEmulatorTest, MatchesCpuOnOddShapes) {
  struct Case {
    std::vector<int64_t> dims;
    int64_t batch;
  };
  const std::vector<Case> cases = {{{7, 1, 3}, 1},   {{33, 7, 17}, 7},    {{5, 33, 1}, 7},
                                   {{9, 17, 200}, 9}, {{1, 1, 1, 2}, 3}, {{40, 300, 10}, 13}};
  for (const Case& c : cases) {
    std::string name;
    for (auto d : c.dims) name += std::to_string(d) + "-";
    SCOPED_TRACE("dims " + name + " batch " + std::to_string(c.batch));
    std::vector<Activation> acts(c.dims.size() - 1, kRelu);
    acts.back() = kIdentity;
    const Net net = make_net(c.dims, acts, 7);
    const TeacherData data = make_teacher_data(23, c.dims.front(), static_cast<int32_t>(c.dims.back()), 3);
    OptimizerConfig config;
    config.kind = OptimizerKind::kMomentum;
    config.learning_rate = 0.05f;
    config.clip_value = 0.5f;
    Pair pair(net, config, c.batch, data, options());
    std::vector<EpochTotals> ct, ft;
    pair.train(c.batch, 2, 0, 9, &ct, &ft);
    EXPECT_TRUE(params_close(read_params(*pair.fused, net), read_params(*pair.cpu, net), 3e-5, 3e-4));
    for (std::size_t e = 0; e < ct.size(); ++e) expect_totals_close(ft[e], ct[e], 1e-5, 1);
  }
}

// Frozen layers (TF var_list semantics) and a first layer above 0 (the
// frozen-layer cache feeds layer k's inputs directly).
TEST_P(FusedEmulatorTest, FrozenLayersAndFirstLayer) {
  const Net net = make_net({13, 33, 7, 9, 5}, {kRelu, kRelu, kRelu, kIdentity}, 21);
  const TeacherData data = make_teacher_data(57, 13, 5, 4);
  OptimizerConfig config;
  config.kind = OptimizerKind::kAdam;
  config.learning_rate = 0.01f;
  {
    SCOPED_TRACE("layers 0-1 frozen, one frozen bias above");
    Pair pair(net, config, 10, data, options());
    for (int i : {0, 1, 2, 3, 5}) pair.freeze(i);
    std::vector<EpochTotals> ct, ft;
    pair.train(10, 2, 0, 1, &ct, &ft);
    const auto fp = read_params(*pair.fused, net);
    EXPECT_TRUE(params_close(fp, read_params(*pair.cpu, net), 3e-5, 3e-4));
    for (int i : {0, 1, 2, 3, 5}) EXPECT_EQ(fp[i], net.params[i]) << "frozen parameter " << i << " moved";
    EXPECT_NE(fp[4], net.params[4]);
  }
  {
    SCOPED_TRACE("first_layer 2 on layer-2 inputs");
    const TeacherData inputs = make_teacher_data(57, 7, 5, 8);
    Pair pair(net, config, 10, inputs, options());
    std::vector<EpochTotals> ct, ft;
    pair.train(10, 2, 2, 1, &ct, &ft);
    const auto fp = read_params(*pair.fused, net);
    EXPECT_TRUE(params_close(fp, read_params(*pair.cpu, net), 3e-5, 3e-4));
    for (int i : {0, 1, 2, 3}) EXPECT_EQ(fp[i], net.params[i]) << "parameter " << i << " below first_layer moved";
  }
  {
    SCOPED_TRACE("only the logits layer trains (lowest = last layer)");
    Pair pair(net, config, 10, data, options());
    for (int i = 0; i < 6; ++i) pair.freeze(i);
    std::vector<EpochTotals> ct, ft;
    pair.train(10, 2, 0, 1, &ct, &ft);
    const auto fp = read_params(*pair.fused, net);
    EXPECT_TRUE(params_close(fp, read_params(*pair.cpu, net), 3e-5, 3e-4));
    for (int i = 0; i < 6; ++i) EXPECT_EQ(fp[i], net.params[i]) << "frozen parameter " << i << " moved";
    EXPECT_NE(fp[6], net.params[6]);
    EXPECT_NE(fp[7], net.params[7]);
  }
  {
    SCOPED_TRACE("one layer: logistic regression");
    const Net one = make_net({13, 5}, {kIdentity}, 2);
    Pair pair(one, config, 10, data, options());
    std::vector<EpochTotals> ct, ft;
    pair.train(10, 2, 0, 1, &ct, &ft);
    EXPECT_TRUE(params_close(read_params(*pair.fused, one), read_params(*pair.cpu, one), 3e-5, 3e-4));
    for (std::size_t e = 0; e < ct.size(); ++e) expect_totals_close(ft[e], ct[e], 1e-5, 1);
  }
  {
    SCOPED_TRACE("everything frozen: the step still counts");
    Pair pair(net, config, 10, data, options());
    for (int i = 0; i < 8; ++i) pair.freeze(i);
    std::vector<EpochTotals> ct, ft;
    pair.train(10, 1, 0, 1, &ct, &ft);
    EXPECT_EQ(read_params(*pair.fused, net), net.params);
    EXPECT_EQ(pair.fused->read_scalars().step, 6);
    EXPECT_FLOAT_EQ(pair.fused->read_scalars().beta1_power, pair.cpu->read_scalars().beta1_power);
    expect_totals_close(ft[0], ct[0], 1e-5, 0);
  }
}

// The reference setup (784-300-50-50-50-50-10 ReLU, SGD 0.01, clip 1.0,
// batch 50), step by step from the CPU's weights so rounding cannot
// accumulate; 12 steps keep the emulator (about 24M multiply-adds a step)
// quick even under the sanitizers.
TEST_P(FusedEmulatorTest, ReferenceNetworkStepByStep) {
  const Net net = make_net({784, 300, 50, 50, 50, 50, 10},
                           {kRelu, kRelu, kRelu, kRelu, kRelu, kIdentity}, 2024);
  const TeacherData data = make_teacher_data(600, 784, 10, 77);
  OptimizerConfig config;
  config.learning_rate = 0.01f;
  config.clip_value = 1.0f;
  Pair pair(net, config, 50, data, options(132));
  pair.cpu->shuffle(*pair.cpu_data, 42, 0);
  pair.fused->shuffle(42, 0);
  int kinks = 0;
  for (int64_t step = 0; step < 12; ++step) {
    pair.cpu->train_step(*pair.cpu_data, step * 50, 50, 0);
    pair.fused->train_step(step * 50, 50, 0);
    const auto cp = read_params(*pair.cpu, net);
    const auto fp = read_params(*pair.fused, net);
    if (!params_close(fp, cp, 1e-5, 1e-4)) {
      ++kinks;
      EXPECT_TRUE(params_close(fp, cp, 1e-3, 1e-2)) << "step " << step;
    }
    for (int i = 0; i < pair.fused->num_params(); ++i) pair.fused->write_param(i, cp[i].data());
  }
  EXPECT_LE(kinks, 1);
  expect_totals_close(pair.fused->take_train_totals(), pair.cpu->take_train_totals(), 1e-5, 1);
}

// Results may not depend on how many blocks run the phases or in which
// order blocks, threads and items go: bit-identical parameters and totals.
TEST_P(FusedEmulatorTest, GridSizeAndOrderDoNotChangeResults) {
  const Net net = make_net({29, 40, 19, 11}, {kRelu, Activation{ActivationKind::kElu, 0.2f}, kIdentity}, 5);
  const TeacherData data = make_teacher_data(61, 29, 11, 6);
  OptimizerConfig config;
  config.kind = OptimizerKind::kRmsProp;
  config.learning_rate = 0.01f;
  config.clip_value = 0.1f;
  std::vector<std::vector<std::vector<float>>> results;
  std::vector<EpochTotals> totals;
  for (FusedEmulator::Options o : {options(1), options(3, true), options(132), options(132, true)}) {
    Pair pair(net, config, 16, data, o);
    std::vector<EpochTotals> ct, ft;
    pair.train(16, 2, 0, 3, &ct, &ft);
    results.push_back(read_params(*pair.fused, net));
    totals.push_back(ft.back());
  }
  for (std::size_t i = 1; i < results.size(); ++i) {
    EXPECT_EQ(results[i], results[0]) << "variant " << i;
    EXPECT_EQ(totals[i].loss_sum, totals[0].loss_sum) << "variant " << i;
    EXPECT_EQ(totals[i].correct, totals[0].correct) << "variant " << i;
  }
}

}  // namespace
}  // namespace graft
