// The CUDA backend against the CPU reference backend on batch-norm +
// dropout networks (tests/common/bn_parity_net.h), on each batch-norm path
// of this build (cuDNN, graft's kernels): one step's loss, gradients and
// moving statistics for both placements of batch norm with and without
// gamma/beta; a frozen batch norm (moving statistics fixed: inference form
// in training); 16 steps of every optimizer; 200 free-running steps;
// evaluation and per-row predictions on the moving statistics; the
// frozen-layer cache through batch norm and dropout. Tolerances: backend_nodes_util.h and bn_parity_net.h.
// Label gpu: every test skips without a device (written without one; first
// run pending a GPU session).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "host/backend.h"
#include "tests/common/backend_compare.h"
#include "tests/common/bn_parity_net.h"
#include "tests/common/tolerance.h"
#include "tests/cuda/backend_nodes_util.h"
#include "tests/cuda/gpu_test_util.h"

namespace graft {
namespace {

using test::all_close;
using test::BnCase;
using test::features_of;
using test::inference_logits;
using test::Net;
using test::params_close;
using test::PathTolerances;
using test::read_params;
using test::TeacherData;

OptimizerConfig sgd_lr1() {
  OptimizerConfig c;
  c.kind = OptimizerKind::kSgd;
  c.learning_rate = 1.0f;  // w' = w - g: the update reads out the gradient
  return c;
}

// The GPU and CPU backends on the same network, optimizer, data and dropout seed.
struct Pair {
  std::unique_ptr<Backend> g, c;
  std::unique_ptr<DeviceDataset> gd, cd;
  Pair(const std::string& path, const Net& net, const OptimizerConfig& config, int64_t max_batch,
       const TeacherData& data, uint64_t dropout_seed, bool graphs = true)
      : g(test::gpu_on(path, graphs)), c(make_cpu_backend(1)) {
    test::load(*g, net, config, max_batch);
    test::load(*c, net, config, max_batch);
    g->set_dropout_seed(dropout_seed);
    c->set_dropout_seed(dropout_seed);
    gd = g->upload(data.x.data(), data.y.data(), data.rows, data.cols);
    cd = c->upload(data.x.data(), data.y.data(), data.rows, data.cols);
  }
  void step(int64_t begin, int64_t n, int first_layer = 0) {
    g->train_step(*gd, begin, n, first_layer);
    c->train_step(*cd, begin, n, first_layer);
  }
};

// One step from identical parameters: gradients of the optimized
// parameters (w - w' at SGD lr 1), the moving statistics, the batch's loss.
void expect_step_matches(Pair& p, const Net& net, const PathTolerances& tol, int64_t begin, int64_t n) {
  const auto before = read_params(*p.c, net);
  p.step(begin, n);
  const EpochTotals gt = p.g->take_train_totals(), ct = p.c->take_train_totals();
  test::expect_totals_close(gt, ct, tol.loss_rtol, 1);
  const auto ga = read_params(*p.g, net), ca = read_params(*p.c, net);
  const ParameterLayout layout = parameter_layout(net.layers);
  for (int i = 0; i < layout.size(); ++i) {
    const ParamSlot& s = layout[i];
    SCOPED_TRACE(std::string(param_role_name(s.role)) + " of node " + std::to_string(s.node));
    if (role_optimized(s.role)) {
      std::vector<float> gg(ga[i].size()), cg(ca[i].size());
      for (std::size_t k = 0; k < gg.size(); ++k) {
        gg[k] = before[i][k] - ga[i][k];
        cg[k] = before[i][k] - ca[i][k];
      }
      EXPECT_TRUE(all_close(gg, cg, tol.grad_atol, tol.grad_rtol));
    } else {
      EXPECT_TRUE(all_close(ga[i], ca[i], tol.stats_atol, tol.stats_rtol));
      EXPECT_NE(ga[i], before[i]) << "the moving statistics did not move";
    }
  }
}

// One step at a full batch, then (both resynchronised to the CPU's
// parameters) one at a shorter batch from another offset, for both
// placements of batch norm with and without gamma/beta.
TEST(CudaBatchNormBackend, OneStepMatchesCpu) {
  GRAFT_REQUIRE_CUDA();
  const TeacherData data = test::make_teacher_data(16, 13, 5, 21);
  for (const std::string& path : test::bn_paths()) {
    const PathTolerances tol = test::tolerances(path);
    uint32_t seed = 500;
    for (const BnCase& bc : test::bn_cases()) {
      SCOPED_TRACE(path + ": " + bc.name);
      const Net net = test::bn_net(test::bn_case_layers(bc, 13, 16, 5), ++seed);
      const int nodes = static_cast<int>(net.layers.size());
      Pair p(path, net, sgd_lr1(), 16, data, 5);
      // Inference before any step: the initial moving statistics.
      EXPECT_TRUE(all_close(inference_logits(*p.g, *p.gd, nodes), inference_logits(*p.c, *p.cd, nodes),
                            tol.logits_atol, tol.logits_rtol));
      expect_step_matches(p, net, tol, 0, 16);
      const auto cp = read_params(*p.c, net);
      for (int i = 0; i < p.g->num_params(); ++i) p.g->write_param(i, cp[i].data());
      expect_step_matches(p, net, tol, 3, 7);
      EXPECT_EQ(p.g->read_scalars().step, 2);
    }
  }
}

// A frozen batch norm (its moving statistics not trainable: the Keras rule)
// runs in inference form in training, forward and backward
// (batch_norm_backward_infer); its moving statistics never change.
TEST(CudaBatchNormBackend, FrozenStatisticsMatchCpu) {
  GRAFT_REQUIRE_CUDA();
  const TeacherData data = test::make_teacher_data(16, 13, 5, 22);
  for (const std::string& path : test::bn_paths()) {
    const PathTolerances tol = test::tolerances(path);
    for (const BnCase& bc : {test::bn_cases()[0], test::bn_cases()[1]}) {
      SCOPED_TRACE(path + ": " + bc.name);
      const Net net = test::bn_net(test::bn_case_layers(bc, 13, 16, 5), 600);
      const ParameterLayout layout = parameter_layout(net.layers);
      Pair p(path, net, sgd_lr1(), 16, data, 6);
      for (int i = 0; i < layout.size(); ++i) {
        if (role_optimized(layout[i].role)) continue;
        p.g->set_trainable(i, false);
        p.c->set_trainable(i, false);
      }
      const auto before = read_params(*p.c, net);
      p.step(0, 16);
      const auto ga = read_params(*p.g, net), ca = read_params(*p.c, net);
      for (int i = 0; i < layout.size(); ++i) {
        SCOPED_TRACE(std::string(param_role_name(layout[i].role)) + " of node " + std::to_string(layout[i].node));
        if (!role_optimized(layout[i].role)) {
          EXPECT_EQ(ga[i], before[i]);
          continue;
        }
        std::vector<float> gg(ga[i].size()), cg(ga[i].size());
        for (std::size_t k = 0; k < gg.size(); ++k) {
          gg[k] = before[i][k] - ga[i][k];
          cg[k] = before[i][k] - ca[i][k];
        }
        EXPECT_TRUE(all_close(gg, cg, tol.grad_atol, tol.grad_rtol));
      }
    }
  }
}

// 16 steps (2 epochs of 101 rows in batches of 13) of every optimizer and
// clipping mode, global norm included (gamma and beta count in the norm,
// the moving statistics do not). In the "before" placement the dense bias
// under the batch norm is frozen: its true gradient is zero (the batch norm
// subtracts the batch mean), so what a backend computes for it is rounding
// noise, which Adam and RMSProp scale up to steps of about +-lr; comparing
// it would compare noise. (TF users drop that bias: use_bias=False.)
TEST(CudaBatchNormBackend, EveryOptimizerMatchesCpu) {
  GRAFT_REQUIRE_CUDA();
  const TeacherData data = test::make_teacher_data(101, 13, 5, 11);
  for (const std::string& path : test::bn_paths()) {
    const PathTolerances tol = test::tolerances(path);
    for (const BnCase& bc : {test::bn_cases()[0], test::bn_cases()[1]}) {
      for (const test::OptimizerVariant& v : test::optimizer_variants(true)) {
        SCOPED_TRACE(path + ": " + bc.name + ", " + v.name);
        const Net net = test::bn_net(test::bn_case_layers(bc, 13, 16, 5), v.seed);
        Pair p(path, net, v.config, 13, data, 3);
        if (bc.before) {
          p.g->set_trainable(1, false);
          p.c->set_trainable(1, false);
        }
        const auto gt = test::train(*p.g, *p.gd, 13, 2, 0, 5);
        const auto ct = test::train(*p.c, *p.cd, 13, 2, 0, 5);
        EXPECT_TRUE(params_close(read_params(*p.g, net), read_params(*p.c, net), tol.train_atol, tol.train_rtol));
        const int slots = static_cast<int>(optimizer_slot_suffixes(v.config.kind).size());
        EXPECT_TRUE(params_close(test::read_slots(*p.g, net, slots), test::read_slots(*p.c, net, slots),
                                 tol.train_atol, tol.train_rtol));
        test::expect_scalars_equal(*p.g, *p.c);
        for (std::size_t e = 0; e < gt.size(); ++e) test::expect_totals_close(gt[e], ct[e], 1e-4, 1);
      }
    }
  }
}

// 200 free-running steps of the deep network (both placements, two
// dropouts), Momentum: every parameter, moving statistics included, the
// epoch losses, and the trained network's evaluation and logits.
TEST(CudaBatchNormBackend, TwoHundredStepsMatchCpu) {
  GRAFT_REQUIRE_CUDA();
  const test::BnTrainingSetup s;
  for (const std::string& path : test::bn_paths()) {
    SCOPED_TRACE(path);
    Pair p(path, s.net, s.config, s.batch, s.data, s.dropout_seed);
    const auto gt = test::train(*p.g, *p.gd, s.batch, s.epochs, 0, s.shuffle_seed);
    const auto ct = test::train(*p.c, *p.cd, s.batch, s.epochs, 0, s.shuffle_seed);
    EXPECT_EQ(p.g->read_scalars().step, 200);
    for (std::size_t e = 0; e < gt.size(); ++e) {
      SCOPED_TRACE("epoch " + std::to_string(e));
      test::expect_totals_close(gt[e], ct[e], test::kBnFreeRunLossRtol, s.data.rows / 100);
    }
    const auto gp = read_params(*p.g, s.net), cp = read_params(*p.c, s.net);
    EXPECT_TRUE(params_close(gp, cp, test::kBnFreeRunAtol, test::kBnFreeRunRtol));
    std::vector<double> diffs;
    for (std::size_t i = 0; i < gp.size(); ++i) {
      for (std::size_t k = 0; k < gp[i].size(); ++k) diffs.push_back(std::fabs(double(gp[i][k]) - cp[i][k]));
    }
    std::nth_element(diffs.begin(), diffs.begin() + diffs.size() / 2, diffs.end());
    const double median = diffs[diffs.size() / 2];
    std::cout << "[" << path << " batch norm, 200 steps] max |gpu - cpu| "
              << *std::max_element(diffs.begin(), diffs.end()) << ", median " << median << "\n";
    EXPECT_LE(median, test::kBnFreeRunMedian);
    test::expect_totals_close(p.g->evaluate(*p.gd, 0), p.c->evaluate(*p.cd, 0), test::kBnFreeRunLossRtol,
                              s.data.rows / 100);
    const int nodes = static_cast<int>(s.net.layers.size());
    EXPECT_TRUE(all_close(inference_logits(*p.g, *p.gd, nodes), inference_logits(*p.c, *p.cd, nodes),
                          test::kBnFreeRunAtol, test::kBnFreeRunRtol));
  }
}

// Evaluation runs batch norm on its moving statistics and dropout as the
// identity: the same logits and totals as the CPU, the same totals twice,
// the moving statistics untouched; new moving statistics change the logits
// (they are read) and the GPU follows the CPU there too.
TEST(CudaBatchNormBackend, EvalUsesMovingStatistics) {
  GRAFT_REQUIRE_CUDA();
  const TeacherData data = test::make_teacher_data(45, 13, 5, 23);  // batches of 16, 16, 13
  for (const std::string& path : test::bn_paths()) {
    const PathTolerances tol = test::tolerances(path);
    SCOPED_TRACE(path);
    const Net net = test::bn_net(test::bn_case_layers(test::bn_cases()[1], 13, 16, 5), 700);
    const int nodes = static_cast<int>(net.layers.size());
    const ParameterLayout layout = parameter_layout(net.layers);
    Pair p(path, net, sgd_lr1(), 16, data, 7);
    const auto logits = inference_logits(*p.g, *p.gd, nodes);
    EXPECT_TRUE(all_close(logits, inference_logits(*p.c, *p.cd, nodes), tol.logits_atol, tol.logits_rtol));
    const EpochTotals e1 = p.g->evaluate(*p.gd, 0), e2 = p.g->evaluate(*p.gd, 0);
    EXPECT_EQ(e1.loss_sum, e2.loss_sum);
    EXPECT_EQ(e1.correct, e2.correct);
    test::expect_totals_close(e1, p.c->evaluate(*p.cd, 0), tol.loss_rtol, 1);
    // Per-row predictions (Backend::predict_logits: host rows in, logits out,
    // in batches of 16) are the same eval-mode logits.
    std::vector<float> gl(static_cast<std::size_t>(data.rows * 5)), cl(gl.size());
    p.g->predict_logits(data.x.data(), data.rows, data.cols, gl.data());
    p.c->predict_logits(data.x.data(), data.rows, data.cols, cl.data());
    EXPECT_TRUE(all_close(gl, cl, tol.logits_atol, tol.logits_rtol));
    EXPECT_TRUE(all_close(gl, logits, tol.logits_atol, tol.logits_rtol));
    EXPECT_TRUE(test::bit_identical(read_params(*p.g, net), net.params));  // evaluation writes nothing

    const int mean = layout.find(1, ParamRole::kMovingMean);
    std::vector<float> shifted = net.params[static_cast<std::size_t>(mean)];
    for (float& m : shifted) m += 0.5f;
    p.g->write_param(mean, shifted.data());
    p.c->write_param(mean, shifted.data());
    const auto moved = inference_logits(*p.g, *p.gd, nodes);
    double change = 0.0;
    for (std::size_t k = 0; k < moved.size(); ++k) change = std::max(change, std::fabs(double(moved[k]) - logits[k]));
    EXPECT_GT(change, 1e-2) << "the logits do not depend on the moving mean";
    EXPECT_TRUE(all_close(moved, inference_logits(*p.c, *p.cd, nodes), tol.logits_atol, tol.logits_rtol));
    test::expect_totals_close(p.g->evaluate(*p.gd, 0), p.c->evaluate(*p.cd, 0), tol.loss_rtol, 1);
  }
}

// The frozen-layer cache through a batch norm and a dropout: with nodes
// 0-2 (dense, batch norm, dropout) frozen, forward_prefix(3) gives the
// CPU's activations (inference forms), training on it from node 3 follows
// the CPU, and equals (to cuBLAS's choice of kernel per batch shape) the
// GPU's own run that recomputes the frozen nodes every step.
TEST(CudaBatchNormBackend, FrozenPrefixCacheMatchesCpuAndRecomputing) {
  GRAFT_REQUIRE_CUDA();
  const test::BnTrainingSetup s;
  const ParameterLayout layout = parameter_layout(s.net.layers);
  for (const std::string& path : test::bn_paths()) {
    const PathTolerances tol = test::tolerances(path);
    SCOPED_TRACE(path);
    Pair p(path, s.net, s.config, s.batch, s.data, s.dropout_seed);
    auto recompute = test::gpu_on(path);
    test::load(*recompute, s.net, s.config, s.batch);
    recompute->set_dropout_seed(s.dropout_seed);
    auto rd = recompute->upload(s.data.x.data(), s.data.y.data(), s.data.rows, s.data.cols);
    for (int i = 0; i < layout.size(); ++i) {
      if (layout[i].node >= 3) continue;
      p.g->set_trainable(i, false);
      p.c->set_trainable(i, false);
      recompute->set_trainable(i, false);
    }
    auto gcache = p.g->forward_prefix(*p.gd, 3);
    auto ccache = p.c->forward_prefix(*p.cd, 3);
    EXPECT_TRUE(all_close(features_of(*gcache), features_of(*ccache), tol.logits_atol, tol.logits_rtol));
    test::train(*p.g, *gcache, s.batch, 1, 3, s.shuffle_seed);
    test::train(*p.c, *ccache, s.batch, 1, 3, s.shuffle_seed);
    test::train(*recompute, *rd, s.batch, 1, 0, s.shuffle_seed);
    const auto gp = read_params(*p.g, s.net);
    EXPECT_TRUE(params_close(gp, read_params(*p.c, s.net), tol.train_atol, tol.train_rtol));
    EXPECT_TRUE(params_close(gp, read_params(*recompute, s.net), 3e-5, 3e-4));
    for (int i = 0; i < layout.size(); ++i) {
      if (layout[i].node < 3) EXPECT_EQ(gp[static_cast<std::size_t>(i)], s.net.params[static_cast<std::size_t>(i)]);
    }
  }
}

}  // namespace
}  // namespace graft
