// tf.contrib.layers.batch_norm's variable names (LAYER/BatchNorm/{beta,
// moving_mean,moving_variance}, no gamma by default) in a checkpoint without
// a graph: rebuilt as a batch norm with scale off (not an error), and
// restored into a model's batch norm (NAME/batch_normalization) by the
// restore plan's aliases, its gamma then starting from ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "host/model/model_spec.h"
#include "host/restore/checkpoint_layers.h"
#include "host/restore/restore_plan.h"
#include "tests/common/fixtures.h"
#include "tests/common/tf_reference.h"

namespace graft {
namespace {

// hidden1 (4 -> 3) + hidden1/BatchNorm without gamma + outputs (3 -> 2).
std::string contrib_checkpoint(const test::TempDir& dir) {
  const std::string prefix = (dir / "contrib.ckpt").string();
  test::TfValues v(3);
  v.random("hidden1/kernel", {4, 3}, -1.f, 1.f);
  v.random("hidden1/bias", {3}, -1.f, 1.f);
  v.random("hidden1/BatchNorm/beta", {3}, -1.f, 1.f);
  v.random("hidden1/BatchNorm/moving_mean", {3}, -1.f, 1.f);
  v.random("hidden1/BatchNorm/moving_variance", {3}, 0.5f, 2.f);
  v.random("outputs/kernel", {3, 2}, -1.f, 1.f);
  v.random("outputs/bias", {2}, -1.f, 1.f);
  v.write(prefix);
  return prefix;
}

TEST(ContribBatchNormNames, RebuiltWithScaleOffWithoutGamma) {
  test::TempDir dir;
  const BundleReader reader = BundleReader::open(contrib_checkpoint(dir));
  CheckpointModelOptions options;
  options.activation = Activation{ActivationKind::kRelu};
  const CheckpointModel model = model_from_checkpoint(reader, options);
  ASSERT_EQ(model.spec.layers.size(), 3u);
  const LayerSpec& bn = model.spec.layers[1];
  EXPECT_EQ(bn.kind, NodeKind::kBatchNorm);
  EXPECT_EQ(bn.name, "hidden1/BatchNorm");
  EXPECT_FALSE(bn.batch_norm.scale);
  EXPECT_TRUE(bn.batch_norm.center);
  EXPECT_EQ(model.layers[1].leaf_keys.count("gamma"), 0u);
  EXPECT_EQ(model.layers[1].leaf_keys.at("moving_variance"), "hidden1/BatchNorm/moving_variance");
  std::string assumed;
  for (const std::string& a : model.assumptions) assumed += a + "\n";
  EXPECT_NE(assumed.find("no gamma stored: scale off"), std::string::npos) << assumed;
}

TEST(ContribBatchNormNames, RestoreIntoAModelsBatchNorm) {
  test::TempDir dir;
  const BundleReader reader = BundleReader::open(contrib_checkpoint(dir));
  ModelSpec spec = make_mlp_spec(4, {3}, 2, Activation{ActivationKind::kRelu});
  add_batch_norm(spec, true, BatchNormAttrs{});
  const RestorePlan plan = plan_restore(parameter_table(spec, OptimizerKind::kSgd), reader, RestoreOptions{});
  auto planned = [&](const std::string& name) {
    const auto it = std::find_if(plan.variables.begin(), plan.variables.end(),
                                 [&](const PlannedVariable& v) { return v.name == name; });
    if (it == plan.variables.end()) throw std::runtime_error("no planned variable " + name);
    return *it;
  };
  for (const char* leaf : {"beta", "moving_mean", "moving_variance"}) {
    const PlannedVariable v = planned(std::string("hidden1/batch_normalization/") + leaf);
    EXPECT_EQ(v.source, VariableSource::kRestored) << leaf;
    EXPECT_EQ(v.checkpoint_key, std::string("hidden1/BatchNorm/") + leaf);
  }
  const PlannedVariable gamma = planned("hidden1/batch_normalization/gamma");
  EXPECT_EQ(gamma.source, VariableSource::kInitialised);
  EXPECT_EQ(gamma.initializer, "ones");
  EXPECT_EQ(planned("hidden1/kernel").source, VariableSource::kRestored);
}

}  // namespace
}  // namespace graft
