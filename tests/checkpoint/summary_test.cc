#include "checkpoint/summary.h"

#include <gtest/gtest.h>

#include "checkpoint/bundle_reader.h"
#include "tests/checkpoint/test_util.h"
#include "tests/common/fixtures.h"

namespace graft {
namespace {

std::vector<std::string> layer_names(const CheckpointSummary& s) {
  std::vector<std::string> v;
  for (const auto& d : s.dense_layers) v.push_back(d.name);
  return v;
}

TEST(Summary, NaturalOrder) {
  EXPECT_TRUE(natural_less("hidden2", "hidden10"));
  EXPECT_FALSE(natural_less("hidden10", "hidden2"));
  EXPECT_TRUE(natural_less("a/b", "a/b1"));
  EXPECT_TRUE(natural_less("layer_with_weights-9", "layer_with_weights-10"));
  EXPECT_TRUE(natural_less("x007", "x8"));
}

TEST(Summary, PlainDenseModel) {
  GRAFT_REQUIRE_FIXTURE_PREFIX(p, "tf1/seed_original/my_model_final.ckpt");
  const CheckpointSummary s = summarize(BundleReader::open(p));
  EXPECT_EQ(s.format, "TF1 name-based");
  EXPECT_EQ(s.model_parameters, 1034840 / 4);
  EXPECT_EQ(s.architecture, "784-300-50-50-50-50-10");
  EXPECT_EQ(layer_names(s), (std::vector<std::string>{"hidden1", "hidden2", "hidden3", "hidden4", "hidden5", "outputs"}));
  EXPECT_TRUE(s.other.empty());
  EXPECT_TRUE(s.optimizer_slots.empty());
}

TEST(Summary, AdamSlotsAndScopedScalars) {
  GRAFT_REQUIRE_FIXTURE_PREFIX(p, "tf1/adam_digits_0_to_4/ch11-exercise_model_0_to_4.ckpt");
  const CheckpointSummary s = summarize(BundleReader::open(p));
  EXPECT_EQ(s.architecture, "784-100-100-100-100-100-5");
  EXPECT_EQ(s.optimizer_slots, (std::vector<std::string>{"Adam", "Adam_1"}));
  EXPECT_EQ(s.optimizer_scalars, (std::vector<std::string>{"train/beta1_power", "train/beta2_power"}));
  EXPECT_EQ(s.model_parameters * 2 + 2, s.optimizer_elements);
}

TEST(Summary, MisspelledKernelsAreNotLayers) {
  GRAFT_REQUIRE_FIXTURE_PREFIX(p, "tf1/scoped_names/my_model_final.ckpt");
  const CheckpointSummary s = summarize(BundleReader::open(p));
  EXPECT_TRUE(s.dense_layers.empty());
  ASSERT_EQ(s.other.size(), 6u);
  EXPECT_EQ(s.other[0].name, "dnn/hidden1/bias");
  EXPECT_EQ(s.other[0].kind, "unpaired bias");
  EXPECT_EQ(s.other[1].kind, "not part of a dense layer");  // dnn/hidden1/kernal
}

TEST(Summary, BatchNormAndConv) {
  GRAFT_REQUIRE_FIXTURE_PREFIX(bn, "tf1/batchnorm/my_model_final.ckpt");
  const CheckpointSummary s = summarize(BundleReader::open(bn));
  EXPECT_EQ(s.architecture, "784-300-200-100-10");
  ASSERT_EQ(s.other.size(), 16u);
  for (const auto& o : s.other) EXPECT_EQ(o.kind, "batch normalization") << o.name;
  EXPECT_EQ(s.other[4].name, "batch_normalization_1/beta");

  GRAFT_REQUIRE_FIXTURE_PREFIX(conv, "tf1/conv_adam/my_mnist_model");
  const CheckpointSummary c = summarize(BundleReader::open(conv));
  EXPECT_EQ(layer_names(c), (std::vector<std::string>{"fc1", "output"}));
  ASSERT_EQ(c.other.size(), 4u);
  EXPECT_EQ(c.other[1].name, "conv1/kernel");
  EXPECT_EQ(c.other[1].kind, "4-D kernel (not a dense layer)");
  EXPECT_EQ(c.other[0].kind, "bias of a 4-D kernel");
}

TEST(Summary, Tf2Keras) {
  GRAFT_REQUIRE_FIXTURE_PREFIX(p, "tf2/keras_dense_adam/cp.ckpt");
  const CheckpointSummary s = summarize(BundleReader::open(p));
  EXPECT_EQ(s.format, "TF2 object-based");
  EXPECT_EQ(s.architecture, "784-32-32-32-10");
  ASSERT_EQ(s.dense_layers.size(), 4u);
  EXPECT_EQ(s.dense_layers[0].name, "layer_with_weights-0");
  EXPECT_EQ(s.dense_layers[0].keras_name, "dense");
  EXPECT_EQ(s.dense_layers[3].keras_name, "dense_3");
  EXPECT_EQ(s.dense_layers[0].kernel, "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE");
  EXPECT_EQ(s.optimizer_slots, (std::vector<std::string>{"m", "v"}));
  EXPECT_EQ(s.optimizer_scalars.size(), 5u);
  EXPECT_TRUE(s.other.empty());
}

}  // namespace
}  // namespace graft
