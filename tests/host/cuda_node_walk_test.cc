// The CUDA backend's node walk (cuda/node_walk.h) without a GPU: the lists
// its graph path launches kernels from, checked against the step plan and
// the parameter table for batch-norm and dropout networks (training,
// evaluation, the frozen prefix, frozen statistics), the parameter ranges its
// update touches (never the moving statistics), and which networks build()
// refuses, in what words. Header-only on the cuda/ side, so this runs in
// every build; the kernels themselves are tests/cuda/'s (label gpu).
#include "cuda/node_walk.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/error.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_backend_options.h"
#include "host/step_plan.h"
#include "tests/common/expect_contains.h"

namespace graft {
namespace {

using cuda::BatchNormPath;
using cuda::NodeBackward;
using cuda::NodeForm;
using cuda::NodeForward;

// in -> dense(8, tanh) -> batch norm -> dropout -> dense(3): node 1 is the
// batch norm, node 2 the dropout.
std::vector<DenseLayerShape> bn_network(bool scale = true, bool center = true) {
  DenseLayerShape d0{5, 8, Activation{ActivationKind::kTanh}};
  DenseLayerShape bn{8, 8, Activation{ActivationKind::kIdentity}};
  bn.kind = NodeKind::kBatchNorm;
  bn.batch_norm.scale = scale;
  bn.batch_norm.center = center;
  DenseLayerShape drop{8, 8, Activation{ActivationKind::kIdentity}};
  drop.kind = NodeKind::kDropout;
  drop.rate = 0.25f;
  return {d0, bn, drop, DenseLayerShape{8, 3, Activation{ActivationKind::kIdentity}}};
}

std::vector<NodeForm> forms(const std::vector<NodeForward>& walk) {
  std::vector<NodeForm> out;
  for (const NodeForward& f : walk) out.push_back(f.form);
  return out;
}

std::string names(const std::vector<NodeForm>& forms) {
  std::string out;
  for (NodeForm f : forms) out += std::string(out.empty() ? "" : " ") + cuda::node_form_name(f);
  return out;
}

// A dense stack walks exactly as the step plan it always walked: every
// node dense, dW where the plan wants it, the bias gradient always (free
// with the activation backward), dX where a node below needs it.
TEST(CudaNodeWalk, DenseStackIsThePlan) {
  const std::vector<DenseLayerShape> layers = {{7, 6, Activation{ActivationKind::kRelu}},
                                               {6, 5, Activation{ActivationKind::kRelu}},
                                               {5, 3, Activation{ActivationKind::kIdentity}}};
  const ParameterLayout layout = parameter_layout(layers);
  std::vector<bool> trainable(6, true);
  trainable[2] = false;  // node 1's kernel frozen: no dW, but dX still flows to node 0
  const StepPlan plan = plan_step(layout, trainable, 0, false);
  const std::vector<NodeForward> fwd = cuda::forward_walk(layout, &plan, 0, 2);
  ASSERT_EQ(fwd.size(), 3u);
  for (int n = 0; n < 3; ++n) {
    EXPECT_EQ(fwd[n].node, n);
    EXPECT_EQ(fwd[n].form, NodeForm::kDense);
  }
  const std::vector<NodeBackward> bwd = cuda::backward_walk(layout, plan);
  ASSERT_EQ(bwd.size(), plan.backward.size());
  for (std::size_t i = 0; i < bwd.size(); ++i) {
    const PlannedBackward& b = plan.backward[i];
    SCOPED_TRACE("node " + std::to_string(b.node));
    EXPECT_EQ(bwd[i].node, b.node);
    EXPECT_EQ(bwd[i].form, NodeForm::kDense);
    EXPECT_EQ(bwd[i].grad_kernel, b.kernel_grad ? layout.kernel(b.node) : -1);
    EXPECT_EQ(bwd[i].grad_bias, layout.bias(b.node));
    EXPECT_EQ(bwd[i].input_grad, b.input_grad);
  }
  EXPECT_EQ(bwd[1].grad_kernel, -1);
  EXPECT_TRUE(bwd[1].input_grad);
  EXPECT_FALSE(bwd[2].input_grad);
  // Every trainable parameter is updated: the dense stack's table is unchanged.
  const auto ranges = cuda::update_ranges(layout, trainable, 0);
  ASSERT_EQ(ranges.size(), 5u);
  for (int i = 0, k = 0; i < layout.size(); ++i) {
    if (!trainable[i]) continue;
    EXPECT_EQ(ranges[k].first, layout[i].offset);
    EXPECT_EQ(ranges[k].second, layout[i].count);
    ++k;
  }
}

// Training: batch norm with the batch's statistics, dropout masked; the
// backward writes dgamma/dbeta into gamma's and beta's gradients (the
// parameter table's indices), nothing for the moving statistics.
TEST(CudaNodeWalk, BatchNormAndDropoutInTraining) {
  for (bool affine : {true, false}) {
    SCOPED_TRACE(affine ? "gamma and beta" : "no gamma, no beta");
    const std::vector<DenseLayerShape> layers = bn_network(affine, affine);
    const ParameterLayout layout = parameter_layout(layers);
    const std::vector<bool> trainable(static_cast<std::size_t>(layout.size()), true);
    const StepPlan plan = plan_step(layout, trainable, 0, false);
    EXPECT_EQ(names(forms(cuda::forward_walk(layout, &plan, 0, 3))),
              "dense batch_norm[batch] dropout[on] dense");
    const std::vector<NodeBackward> bwd = cuda::backward_walk(layout, plan);
    ASSERT_EQ(bwd.size(), 4u);
    EXPECT_EQ(bwd[0].node, 3);
    EXPECT_EQ(bwd[1].node, 2);
    EXPECT_EQ(bwd[1].form, NodeForm::kDropoutMask);
    EXPECT_TRUE(bwd[1].input_grad);
    EXPECT_EQ(bwd[1].grad_kernel, -1);
    EXPECT_EQ(bwd[1].grad_bias, -1);
    EXPECT_EQ(bwd[2].node, 1);
    EXPECT_EQ(bwd[2].form, NodeForm::kBatchNormBatch);
    EXPECT_TRUE(bwd[2].input_grad);
    EXPECT_EQ(bwd[2].grad_kernel, layout.find(1, ParamRole::kGamma));
    EXPECT_EQ(bwd[2].grad_bias, layout.find(1, ParamRole::kBeta));
    if (affine) {
      EXPECT_EQ(layout[bwd[2].grad_kernel].role, ParamRole::kGamma);
      EXPECT_EQ(layout[bwd[2].grad_bias].role, ParamRole::kBeta);
    } else {
      EXPECT_EQ(bwd[2].grad_kernel, -1);
      EXPECT_EQ(bwd[2].grad_bias, -1);
    }
    EXPECT_EQ(bwd[3].node, 0);
    EXPECT_FALSE(bwd[3].input_grad);

    // The update: every optimized parameter, never a moving statistic,
    // although the moving statistics are "trainable" (updated by their op).
    std::set<int64_t> updated;
    for (const auto& [offset, count] : cuda::update_ranges(layout, trainable, 0)) updated.insert(offset);
    std::set<int64_t> want;
    for (int i = 0; i < layout.size(); ++i) {
      const ParamRole role = layout[i].role;
      if (role != ParamRole::kMovingMean && role != ParamRole::kMovingVariance) want.insert(layout[i].offset);
    }
    EXPECT_EQ(updated, want);
    EXPECT_EQ(updated.count(layout[layout.find(1, ParamRole::kMovingMean)].offset), 0u);
    EXPECT_EQ(updated.count(layout[layout.find(1, ParamRole::kMovingVariance)].offset), 0u);
    EXPECT_EQ(updated.size(), affine ? 6u : 4u);
  }
}

// Evaluation and the frozen-layer cache (forward_prefix, walked without a
// plan): every node in inference form.
TEST(CudaNodeWalk, EvalAndPrefixUseInferenceForms) {
  const std::vector<DenseLayerShape> layers = bn_network();
  const ParameterLayout layout = parameter_layout(layers);
  const std::vector<bool> trainable(static_cast<std::size_t>(layout.size()), true);
  EXPECT_EQ(names(forms(cuda::forward_walk(layout, nullptr, 0, 3))),
            "dense batch_norm[moving] dropout[off] dense");
  EXPECT_EQ(names(forms(cuda::forward_walk(layout, nullptr, 1, 2))), "batch_norm[moving] dropout[off]");
  const StepPlan eval = plan_step(layout, trainable, 0, false, Mode::kEval);
  EXPECT_EQ(names(forms(cuda::forward_walk(layout, &eval, 0, 3))),
            "dense batch_norm[moving] dropout[off] dense");
  EXPECT_TRUE(cuda::backward_walk(layout, eval).empty());
}

// Training with everything up to the dropout frozen (moving statistics
// too): those nodes are the frozen prefix and run in inference form; a
// step that starts above them (the cache) walks only the nodes it runs.
TEST(CudaNodeWalk, FrozenPrefixRunsInInferenceForm) {
  const std::vector<DenseLayerShape> layers = bn_network();
  const ParameterLayout layout = parameter_layout(layers);
  std::vector<bool> trainable(static_cast<std::size_t>(layout.size()), true);
  for (int i = 0; i < layout.size(); ++i) trainable[i] = layout[i].node >= 3;
  const StepPlan uncached = plan_step(layout, trainable, 0, false);
  EXPECT_EQ(names(forms(cuda::forward_walk(layout, &uncached, 0, 3))),
            "dense batch_norm[moving] dropout[off] dense");
  const std::vector<NodeBackward> bwd = cuda::backward_walk(layout, uncached);
  ASSERT_EQ(bwd.size(), 1u);
  EXPECT_EQ(bwd[0].node, 3);
  EXPECT_FALSE(bwd[0].input_grad);
  const StepPlan cached = plan_step(layout, trainable, 3, false);
  const std::vector<NodeForward> fwd = cuda::forward_walk(layout, &cached, 3, 3);
  ASSERT_EQ(fwd.size(), 1u);
  EXPECT_EQ(fwd[0].node, 3);
  // From the dropout up (the cache holds the batch norm's outputs): the
  // dropout is still below the lowest node with anything to train, so it
  // is frozen prefix too (the identity), as in the uncached step.
  const StepPlan from_dropout = plan_step(layout, trainable, 2, false);
  EXPECT_EQ(names(forms(cuda::forward_walk(layout, &from_dropout, 2, 3))), "dropout[off] dense");
}

// A frozen batch norm (moving statistics not trainable, the Keras rule)
// with trained nodes below runs with its moving statistics, forward and
// backward; gamma and beta still get their gradients when trainable.
TEST(CudaNodeWalk, FrozenStatisticsUseTheMovingForm) {
  const std::vector<DenseLayerShape> layers = bn_network();
  const ParameterLayout layout = parameter_layout(layers);
  std::vector<bool> trainable(static_cast<std::size_t>(layout.size()), true);
  trainable[layout.find(1, ParamRole::kMovingMean)] = false;
  trainable[layout.find(1, ParamRole::kMovingVariance)] = false;
  const StepPlan plan = plan_step(layout, trainable, 0, false);
  EXPECT_EQ(names(forms(cuda::forward_walk(layout, &plan, 0, 3))),
            "dense batch_norm[moving] dropout[on] dense");
  const std::vector<NodeBackward> bwd = cuda::backward_walk(layout, plan);
  ASSERT_EQ(bwd.size(), 4u);
  EXPECT_EQ(bwd[2].form, NodeForm::kBatchNormMoving);
  EXPECT_EQ(bwd[2].grad_kernel, layout.find(1, ParamRole::kGamma));
  EXPECT_TRUE(bwd[2].input_grad);
}

TEST(CudaNodeWalk, BatchNormPathNames) {
  BatchNormPath p = BatchNormPath::kFused;
  EXPECT_TRUE(cuda::parse_batch_norm_path("cudnn", &p));
  EXPECT_EQ(p, BatchNormPath::kCudnn);
  EXPECT_TRUE(cuda::parse_batch_norm_path("fused", &p));
  EXPECT_EQ(p, BatchNormPath::kFused);
  EXPECT_TRUE(cuda::parse_batch_norm_path("auto", &p));
  EXPECT_EQ(p, BatchNormPath::kAuto);
  EXPECT_FALSE(cuda::parse_batch_norm_path("cuDNN", &p));
  EXPECT_FALSE(cuda::parse_batch_norm_path("", &p));
  EXPECT_EQ(CudaBackendOptions{}.batch_norm, "auto");
}

// auto takes cuDNN only where it can run every batch norm of the model, so
// the default never refuses what graft's own kernels run; an explicit
// choice is kept (and refused by node_support_error where it cannot run).
TEST(CudaNodeWalk, AutoBatchNormPathFallsBackToGraftsKernels) {
  const std::vector<DenseLayerShape> layers = bn_network();
  EXPECT_EQ(cuda::resolve_batch_norm_path(layers, BatchNormPath::kAuto, true, 1e-5), BatchNormPath::kCudnn);
  EXPECT_EQ(cuda::resolve_batch_norm_path(layers, BatchNormPath::kAuto, false, 1e-5), BatchNormPath::kFused);
  std::vector<DenseLayerShape> tiny = layers;
  tiny[1].batch_norm.epsilon = 1e-6f;
  EXPECT_EQ(cuda::resolve_batch_norm_path(tiny, BatchNormPath::kAuto, true, 1e-5), BatchNormPath::kFused);
  EXPECT_EQ(cuda::node_support_error(tiny, cuda::resolve_batch_norm_path(tiny, BatchNormPath::kAuto, true, 1e-5),
                                     true, 1e-5),
            "");
  EXPECT_EQ(cuda::resolve_batch_norm_path(tiny, BatchNormPath::kCudnn, true, 1e-5), BatchNormPath::kCudnn);
  EXPECT_EQ(cuda::resolve_batch_norm_path(layers, BatchNormPath::kFused, true, 1e-5), BatchNormPath::kFused);
}

// What build() refuses before it touches the device: one line, naming the
// node and what to pass. Dense and dropout nodes always run; batch norm on
// cuDNN needs a build with cuDNN and epsilon >= cuDNN's minimum.
TEST(CudaNodeWalk, SupportErrorsNameTheNodeAndTheWayOut) {
  const std::vector<DenseLayerShape> layers = bn_network();
  for (BatchNormPath path : {BatchNormPath::kCudnn, BatchNormPath::kFused}) {
    EXPECT_EQ(cuda::node_support_error(layers, path, true, 1e-5), "");
  }
  EXPECT_EQ(cuda::node_support_error(layers, BatchNormPath::kFused, false, 1e-5), "");
  const std::vector<DenseLayerShape> dense = {layers[0], layers[3]};
  EXPECT_EQ(cuda::node_support_error(dense, BatchNormPath::kCudnn, false, 1e-5), "");
  std::vector<DenseLayerShape> dropout_only = {layers[0], layers[2], layers[3]};
  EXPECT_EQ(cuda::node_support_error(dropout_only, BatchNormPath::kCudnn, false, 1e-5), "");

  const std::string no_cudnn = cuda::node_support_error(layers, BatchNormPath::kCudnn, false, 1e-5);
  EXPECT_CONTAINS(no_cudnn, "batch_norm node 1");
  EXPECT_CONTAINS(no_cudnn, "-DGRAFT_WITH_CUDNN=ON");
  EXPECT_CONTAINS(no_cudnn, "--cuda-batch-norm fused (GRAFT_CUDA_BATCH_NORM=fused)");
  EXPECT_CONTAINS(no_cudnn, "--device cpu");

  std::vector<DenseLayerShape> tiny = layers;
  tiny[1].batch_norm.epsilon = 1e-6f;
  const std::string eps = cuda::node_support_error(tiny, BatchNormPath::kCudnn, true, 1e-5);
  EXPECT_CONTAINS(eps, "batch_norm node 1 has epsilon 1e-06, below cuDNN's minimum 1e-05");
  EXPECT_CONTAINS(eps, "GRAFT_CUDA_BATCH_NORM=fused");
  EXPECT_EQ(cuda::node_support_error(tiny, BatchNormPath::kFused, true, 1e-5), "");

  std::vector<DenseLayerShape> wide = layers;
  wide[2].fan_out = 9;
  EXPECT_CONTAINS(cuda::node_support_error(wide, BatchNormPath::kFused, true, 1e-5),
                  "dropout node 2 changes the width (8 -> 9)");
  std::vector<DenseLayerShape> all_dropped = layers;
  all_dropped[2].rate = 1.0f;
  EXPECT_CONTAINS(cuda::node_support_error(all_dropped, BatchNormPath::kFused, true, 1e-5),
                  "dropout node 2 has dropout rate 1, outside [0, 1)");

  for (const std::string& e : {no_cudnn, eps}) {
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
    EXPECT_EQ(e.find("does not run"), std::string::npos) << e;  // the old blanket refusal is gone
  }
}

// GRAFT_CUDA_BATCH_NORM in the environment (a build with the CUDA backend;
// without it the settings have no effect and from_env gives the defaults).
TEST(CudaNodeWalk, EnvironmentChoosesTheBatchNormPath) {
  if (!cuda_compiled()) GTEST_SKIP() << "built without the CUDA backend";
  ASSERT_EQ(setenv("GRAFT_CUDA_BATCH_NORM", "fused", 1), 0);
  EXPECT_EQ(CudaBackendOptions::from_env().batch_norm, "fused");
  ASSERT_EQ(setenv("GRAFT_CUDA_BATCH_NORM", "cuda", 1), 0);
  try {
    CudaBackendOptions::from_env();
    ADD_FAILURE() << "GRAFT_CUDA_BATCH_NORM=cuda accepted";
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "GRAFT_CUDA_BATCH_NORM=cuda: expected auto, cudnn or fused");
  }
  unsetenv("GRAFT_CUDA_BATCH_NORM");
  EXPECT_EQ(CudaBackendOptions::from_env().batch_norm, "auto");
}

}  // namespace
}  // namespace graft
