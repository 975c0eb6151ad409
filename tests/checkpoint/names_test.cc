#include "checkpoint/names.h"

#include <gtest/gtest.h>

#include <map>

#include "checkpoint/bundle_reader.h"
#include "tests/checkpoint/test_util.h"
#include "tests/common/fixtures.h"

namespace graft {
namespace {

void expect_role(const std::string& key, VariableRole role, const std::string& variable = "",
                 const std::string& slot = "") {
  const NameInfo n = classify_name(key);
  EXPECT_EQ(n.role, role) << key << " is " << role_name(n.role);
  if (!variable.empty()) {
    EXPECT_EQ(n.variable, variable) << key;
  }
  EXPECT_EQ(n.slot, slot) << key;
}

TEST(Names, Tf1) {
  using R = VariableRole;
  expect_role("hidden1/kernel", R::kModel, "hidden1/kernel");
  expect_role("dnn/hidden1/kernal", R::kModel, "dnn/hidden1/kernal");
  expect_role("batch_normalization/moving_mean", R::kModel);
  expect_role("hidden1/kernel/Adam", R::kOptimizerSlot, "hidden1/kernel", "Adam");
  expect_role("hidden1/kernel/Adam_1", R::kOptimizerSlot, "hidden1/kernel", "Adam_1");
  expect_role("hidden1/kernel/Adam2_1", R::kOptimizerSlot, "hidden1/kernel", "Adam2_1");
  expect_role("hidden1/bias/Momentum", R::kOptimizerSlot, "hidden1/bias", "Momentum");
  expect_role("hidden1/bias/RMSProp", R::kOptimizerSlot, "hidden1/bias", "RMSProp");
  expect_role("hidden1/bias/RMSProp_1", R::kOptimizerSlot, "hidden1/bias", "RMSProp_1");
  expect_role("hidden1/bias/RMSProp_2", R::kOptimizerSlot, "hidden1/bias", "RMSProp_2");
  expect_role("hidden1/bias/Adagrad", R::kOptimizerSlot, "hidden1/bias", "Adagrad");
  expect_role("beta1_power", R::kOptimizerScalar);
  expect_role("beta2_power_1", R::kOptimizerScalar);
  expect_role("train/beta1_power", R::kOptimizerScalar);
  expect_role("global_step", R::kGlobalStep);
  expect_role("Adam", R::kModel);  // a bare name is not a slot of anything
  expect_role("hidden1/Adamant", R::kModel);
  expect_role("beta1_powers", R::kModel);
}

TEST(Names, Tf2) {
  using R = VariableRole;
  expect_role("layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE", R::kModel, "layer_with_weights-0/kernel");
  expect_role("layer_with_weights-0/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE",
              R::kOptimizerSlot, "layer_with_weights-0/kernel", "m");
  expect_role("model/dense/bias/.OPTIMIZER_SLOT/model/optimizer/rms/.ATTRIBUTES/VARIABLE_VALUE",
              R::kOptimizerSlot, "model/dense/bias", "rms");
  expect_role("optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE", R::kOptimizerScalar);
  expect_role("optimizer/learning_rate/.ATTRIBUTES/VARIABLE_VALUE", R::kOptimizerScalar);
  expect_role("optimizer/beta_1/.ATTRIBUTES/VARIABLE_VALUE", R::kOptimizerScalar);
  expect_role("save_counter/.ATTRIBUTES/VARIABLE_VALUE", R::kGlobalStep);
  expect_role("_CHECKPOINTABLE_OBJECT_GRAPH", R::kObjectGraph);
  EXPECT_STREQ(role_name(R::kOptimizerSlot), "optimizer slot");
}

TEST(Names, RealFixtureNames) {
  if (!test::fixtures_dir()) GTEST_SKIP() << "fixtures not found";
  // Counts per role: model, slot, scalar, step, graph.
  const std::map<std::string, std::array<int, 5>> expected{
      {"tf1/seed_original/my_model_final.ckpt", {12, 0, 0, 0, 0}},
      {"tf1/adam_digits_0_to_4/ch11-exercise_model_0_to_4.ckpt", {12, 24, 2, 0, 0}},
      {"tf1/scoped_names/my_model_final.ckpt", {6, 0, 0, 0, 0}},
      {"tf1/batchnorm/my_model_final.ckpt", {24, 0, 0, 0, 0}},
      {"tf1/conv_adam/my_mnist_model", {8, 16, 2, 0, 0}},
      {"tf2/keras_dense_adam/cp.ckpt", {8, 16, 5, 0, 1}},
  };
  for (const auto& [rel, counts] : expected) {
    std::array<int, 5> got{};
    const BundleReader r = BundleReader::open(*test::fixture_prefix(rel));
    for (const auto& e : r.entries()) {
      const NameInfo n = classify_name(e.info.name);
      ++got[static_cast<int>(n.role)];
      if (n.role == VariableRole::kOptimizerSlot) {
        // The slot's variable is stored too (TF2 keys carry the value suffix).
        const bool tf2 = rel.rfind("tf2", 0) == 0;
        EXPECT_NE(r.find(tf2 ? n.variable + "/.ATTRIBUTES/VARIABLE_VALUE" : n.variable), nullptr)
            << e.info.name;
      }
    }
    EXPECT_EQ(got, counts) << rel;
  }
}

}  // namespace
}  // namespace graft
