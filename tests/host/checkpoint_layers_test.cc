// Recovering dense layers from checkpoints: natural order with the output
// scope last, explicit layer lists, rename rules, and the errors for
// malformed or mismatched layers.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/bundle_writer.h"
#include "checkpoint/error.h"
#include "host/restore/checkpoint_layers.h"
#include "tests/common/fixtures.h"
#include "tests/common/error_of.h"

namespace graft {
namespace {

using test::error_of;

struct Tensor {
  std::string name;
  Shape shape;
};

// A checkpoint of tensors whose values are their element index plus `base`.
std::string write_checkpoint(const test::TempDir& dir, const std::string& name, std::vector<Tensor> tensors) {
  std::sort(tensors.begin(), tensors.end(), [](const Tensor& a, const Tensor& b) { return a.name < b.name; });
  const std::string prefix = (dir / name).string();
  BundleWriter writer(prefix);
  for (const Tensor& t : tensors) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    std::vector<float> values(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i) values[i] = static_cast<float>(i) + static_cast<float>(t.name.size());
    writer.add_float(t.name, t.shape, values.data());
  }
  writer.finish();
  return prefix;
}

std::vector<Tensor> dense(const std::string& scope, int64_t in, int64_t out) {
  return {{scope + "/kernel", {in, out}}, {scope + "/bias", {out}}};
}

std::vector<Tensor> concat(std::vector<std::vector<Tensor>> parts) {
  std::vector<Tensor> all;
  for (auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  return all;
}

TEST(CheckpointLayers, NaturalOrderWithOutputsLast) {
  test::TempDir dir;
  const std::string prefix = write_checkpoint(
      dir, "m",
      concat({dense("hidden1", 6, 5), dense("hidden2", 5, 4), dense("hidden10", 4, 3), dense("outputs", 3, 2),
              {{"global_step", {}}, {"hidden1/kernel/Momentum", {6, 5}}}}));
  const BundleReader reader = BundleReader::open(prefix);
  CheckpointModelOptions options;
  options.activation = *parse_activation("tanh");
  const CheckpointModel model = model_from_checkpoint(reader, options);
  ASSERT_EQ(model.layers.size(), 4u);
  EXPECT_EQ(model.layers[0].name, "hidden1");
  EXPECT_EQ(model.layers[1].name, "hidden2");
  EXPECT_EQ(model.layers[2].name, "hidden10");
  EXPECT_EQ(model.layers[3].name, "outputs");
  EXPECT_EQ(model.spec.describe(), "6-5-4-3-2 (tanh)");
  EXPECT_EQ(model.spec.layers[3].activation.kind, ActivationKind::kIdentity);

  auto backend = make_cpu_backend(1);
  backend->build(model.spec.backend_shapes(), OptimizerConfig{}, 4);
  load_checkpoint_weights(*backend, reader, model);
  std::vector<float> w(20);
  backend->read_param(4, w.data());  // hidden10/kernel [4, 3]
  EXPECT_EQ(w[0], 15.0f);            // index 0 + strlen("hidden10/kernel")
  EXPECT_EQ(w[11], 26.0f);
}

TEST(CheckpointLayers, ExplicitLayersAndRenames) {
  test::TempDir dir;
  const std::string prefix = write_checkpoint(
      dir, "m", concat({{{"dnn/a/kernal", {6, 5}}, {"dnn/a/bias", {5}}}, dense("dnn/b", 5, 4), dense("dnn/logits", 4, 2)}));
  const BundleReader reader = BundleReader::open(prefix);
  CheckpointModelOptions options;
  // Without renames dnn/a/kernal belongs to no layer.
  EXPECT_NE(error_of([&] { model_from_checkpoint(reader, options); }).find("belong to no dense layer: dnn/a/kernal"),
            std::string::npos);
  options.renames = parse_rename_rules({"^dnn/(.*)/kernal$=$1/kernel", "^dnn/=", "b=never"});
  CheckpointModel model = model_from_checkpoint(reader, options);
  ASSERT_EQ(model.layers.size(), 3u);
  EXPECT_EQ(model.layers[0].name, "a");
  EXPECT_EQ(model.layers[0].kernel_key, "dnn/a/kernal");
  EXPECT_EQ(model.layers[0].bias_key, "dnn/a/bias");  // second rule: the first rule did not match
  EXPECT_EQ(model.layers[1].name, "b");
  EXPECT_EQ(model.layers[2].name, "logits");

  options.layers = {"a", "b"};
  model = model_from_checkpoint(reader, options);
  EXPECT_EQ(model.spec.describe(), "6-5-4 (relu)");
  options.layers = {"b", "a"};
  EXPECT_NE(error_of([&] { model_from_checkpoint(reader, options); }).find("layer a takes 6 inputs"),
            std::string::npos);
  options.layers = {"a", "c"};
  EXPECT_NE(error_of([&] { model_from_checkpoint(reader, options); }).find("no layer c (layers: a, b, logits)"),
            std::string::npos);
  options.layers = {"a", "a"};
  EXPECT_NE(error_of([&] { model_from_checkpoint(reader, options); }).find("listed twice"), std::string::npos);
  options.layers.clear();
  options.renames = parse_rename_rules({"kernal=kernel", "^dnn/a/bias$=dnn/b/bias"});
  EXPECT_NE(error_of([&] { model_from_checkpoint(reader, options); }).find("both become dnn/b/bias"),
            std::string::npos);
}

TEST(CheckpointLayers, MalformedLayers) {
  test::TempDir dir;
  const BundleReader no_bias = BundleReader::open(write_checkpoint(dir, "a", {{"h/kernel", {3, 2}}}));
  EXPECT_NE(error_of([&] { model_from_checkpoint(no_bias, {}); }).find("h/kernel has no matching bias"),
            std::string::npos);
  const BundleReader conv =
      BundleReader::open(write_checkpoint(dir, "b", {{"c/kernel", {3, 3, 1, 2}}, {"c/bias", {2}}}));
  EXPECT_NE(error_of([&] { model_from_checkpoint(conv, {}); }).find("[3, 3, 1, 2]"), std::string::npos);
  const BundleReader bad_bias = BundleReader::open(write_checkpoint(dir, "c", {{"h/kernel", {3, 2}}, {"h/bias", {3}}}));
  EXPECT_NE(error_of([&] { model_from_checkpoint(bad_bias, {}); }).find("h/bias has shape [3]"), std::string::npos);
  const BundleReader chain =
      BundleReader::open(write_checkpoint(dir, "d", concat({dense("hidden1", 6, 5), dense("outputs", 4, 2)})));
  EXPECT_NE(error_of([&] { model_from_checkpoint(chain, {}); }).find("layer outputs takes 4 inputs"),
            std::string::npos);
  const BundleReader empty = BundleReader::open(write_checkpoint(dir, "e", {{"global_step", {}}}));
  EXPECT_NE(error_of([&] { model_from_checkpoint(empty, {}); }).find("no dense layers"), std::string::npos);
}

TEST(CheckpointLayers, ScopedNamesFixture) {
  GRAFT_REQUIRE_FIXTURE(dir, "tf1/scoped_names");
  const BundleReader reader = BundleReader::open(dir.string());
  CheckpointModelOptions options;
  options.renames = parse_rename_rules({"^dnn/(.*)/kernal$=$1/kernel", "^dnn/(.*)$=$1"});
  const CheckpointModel model = model_from_checkpoint(reader, options);
  EXPECT_EQ(model.spec.describe(), "784-300-100-10 (relu)");
  EXPECT_EQ(model.layers[0].kernel_key, "dnn/hidden1/kernal");
}

TEST(RenameRules, FirstMatchWins) {
  const auto rules = parse_rename_rules({"^a/(\\w+)$=x/$1", "a=b"});
  EXPECT_EQ(apply_renames(rules, "a/k"), "x/k");
  EXPECT_EQ(apply_renames(rules, "q/a/a/k"), "q/b/b/k");  // regex_replace replaces every match
  EXPECT_EQ(apply_renames(rules, "z"), "z");
  EXPECT_THROW(parse_rename_rules({"noequals"}), Error);
  EXPECT_THROW(parse_rename_rules({"(=x"}), Error);
}

// Issue 15: '.*=x' renamed every name to "xx" (std::regex_replace also
// replaced the empty match at the end).
TEST(RenameRules, DotStarRenamesToTheReplacementOnce) {
  EXPECT_EQ(apply_renames(parse_rename_rules({".*=x"}), "dnn/hidden1/kernel"), "x");
  EXPECT_EQ(apply_renames(parse_rename_rules({"(.*)=pre/$1"}), "hidden1/bias"), "pre/hidden1/bias");
  EXPECT_EQ(apply_renames(parse_rename_rules({"dnn/(.*)=$1"}), "dnn/hidden1/bias"), "hidden1/bias");
  EXPECT_EQ(apply_renames(parse_rename_rules({"^dnn/="}), "dnn/hidden1/bias"), "hidden1/bias");
  EXPECT_EQ(apply_renames(parse_rename_rules({"a*=x"}), "bab"), "xbxbx");  // as sed 's/a*/x/g'
}

}  // namespace
}  // namespace graft
