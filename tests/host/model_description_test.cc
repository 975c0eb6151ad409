// The model description as data: JSON round trip, errors that name the
// field, validation, the summary table, the dense stack it stands for,
// renames, and the resume rules (host/train/resume_model.h).
#include "host/model/model_description.h"

#include <gtest/gtest.h>

#include <cmath>

#include "checkpoint/bundle_writer.h"
#include "checkpoint/error.h"
#include "checkpoint/names.h"
#include "host/model/model_io.h"
#include "host/train/resume_model.h"
#include "tests/common/error_of.h"
#include "tests/common/expect_contains.h"
#include "tests/common/fixtures.h"

namespace graft {
namespace {

ModelDescription sample() {
  ModelSpec spec = make_mlp_spec(784, {300, 100}, 5, Activation{ActivationKind::kLeakyRelu, 0.1f});
  spec.layers[0].kernel_trainable = spec.layers[0].bias_trainable = false;
  OptimizerConfig adam;
  adam.kind = OptimizerKind::kAdam;
  adam.learning_rate = 0.001f;
  adam.clip_value = 1.0f;
  ModelDescription m = model_from_spec(spec, adam, {5, 6, 7, 8, 9});
  m.assumptions = {"nothing, really"};
  return m;
}

TEST(ModelDescription, JsonRoundTripKeepsEveryField) {
  const ModelDescription m = sample();
  const ModelDescription back = model_from_json(model_to_json(m), "test");
  EXPECT_EQ(model_to_json(back), model_to_json(m));
  EXPECT_EQ(back.nodes.size(), 3u);
  EXPECT_EQ(back.nodes[0].activation.kind, ActivationKind::kLeakyRelu);
  EXPECT_EQ(back.nodes[0].activation.alpha, 0.1f);
  EXPECT_EQ(back.nodes[2].activation.kind, ActivationKind::kIdentity);
  EXPECT_EQ(back.nodes[1].variables.at("kernel"), "hidden2/kernel");
  EXPECT_EQ(back.output.labels, (std::vector<int>{5, 6, 7, 8, 9}));
  ASSERT_TRUE(back.optimizer);
  EXPECT_EQ(back.optimizer->kind, OptimizerKind::kAdam);
  EXPECT_EQ(back.optimizer->learning_rate, 0.001f);
  EXPECT_EQ(back.optimizer->clip_value, 1.0f);
  EXPECT_EQ(back.frozen, (std::vector<std::string>{"hidden1/kernel", "hidden1/bias"}));
  EXPECT_EQ(back.assumptions, m.assumptions);
}

// Data files: class names and the CSV label column travel with the model.
TEST(ModelDescription, ClassNamesAndLabelColumnRoundTrip) {
  ModelDescription m = model_from_spec(make_mlp_spec(5, {4}, 3, Activation{}), std::nullopt, {0, 1, 2});
  m.output.class_names = {"cat", "dog", "owl"};
  m.output.label_column = "species";
  m.input.scale = 1.0;
  const ModelDescription back = model_from_json(model_to_json(m), "test");
  EXPECT_EQ(back.output.class_names, m.output.class_names);
  EXPECT_EQ(back.output.label_column, "species");
  EXPECT_EQ(back.input.scale, 1.0);
  EXPECT_CONTAINS(back.summary(), "  class names: cat,dog,owl\n  labels from the CSV column: species\n");
  m.output.class_names = {"cat", "dog"};
  EXPECT_EQ(test::error_of([&] { m.validate(); }),
            "model description: output label 2 has no name in output.class_names (2 names)");
}

TEST(ModelDescription, MalformedJsonNamesTheField) {
  const std::string good = model_to_json(sample());
  auto with = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
  };
  EXPECT_CONTAINS(test::error_of([&] { model_from_json("{", "ck"); }), "ck: model description is not valid JSON");
  EXPECT_CONTAINS(test::error_of([&] { model_from_json(with("\"units\": 300", "\"units\": \"x\""), "ck"); }),
                  "ck: model description: nodes[0].units is not an integer");
  EXPECT_CONTAINS(test::error_of([&] { model_from_json(with("\"version\": 1", "\"version\": 9"), "ck"); }),
                  "version is 9; this graft reads version 1");
  EXPECT_CONTAINS(test::error_of([&] { model_from_json(with("\"activation\": \"leaky_relu\"", "\"activation\": \"swish\""), "ck"); }),
                  "nodes[0].activation is an unknown activation 'swish'");
  EXPECT_CONTAINS(test::error_of([&] { model_from_json(with("\"classes\": 5", "\"classes\": 4"), "ck"); }),
                  "output.classes is 4 but the last node (outputs) has 5 units");
  EXPECT_CONTAINS(test::error_of([&] { model_from_json(with("\"name\": \"adam\"", "\"name\": \"lion\""), "ck"); }),
                  "optimizer.name names an unknown optimizer 'lion'");
}

TEST(ModelDescription, ValidateRefusesInconsistentDescriptions) {
  ModelDescription m = sample();
  m.output.labels = {5, 5, 6, 7, 8};
  EXPECT_CONTAINS(test::error_of([&] { m.validate(); }), "output label 5 is negative or repeated");
  m = sample();
  m.output.labels = {5, 6};
  EXPECT_CONTAINS(test::error_of([&] { m.validate(); }), "output.labels has 2 labels for 5 classes");
  m = sample();
  m.nodes[1].variables.erase("bias");
  EXPECT_CONTAINS(test::error_of([&] { m.validate(); }), "dense node hidden2 names no bias variable");
  m = sample();
  m.nodes[0].variables["gamma"] = "hidden1/gamma";  // the op table's dense row has no such leaf
  EXPECT_CONTAINS(test::error_of([&] { m.validate(); }), "dense node hidden1 has no leaf named 'gamma'");
  m = sample();
  m.input.mean = {0.0f};
  EXPECT_CONTAINS(test::error_of([&] { m.validate(); }), "input.mean and input.stddev need 784 values each");
  m = sample();
  m.optimizer->learning_rate = std::nanf("");
  EXPECT_CONTAINS(test::error_of([&] { m.validate(); }), "OptimizerConfig::learning_rate is nan, not a finite number");
  m = sample();
  m.output.labels = {kNoClass, kNoClass, kNoClass, kNoClass, kNoClass};
  EXPECT_CONTAINS(test::error_of([&] { m.validate(); }), "no output stands for a class");
}

TEST(ModelDescription, SummaryIsAKerasLikeTable) {
  const std::string s = sample().summary();
  EXPECT_CONTAINS(s, "model (graft)\n");
  EXPECT_CONTAINS(s, "  input: 784 features, raw value x 0.00392157\n");
  EXPECT_CONTAINS(s, "  hidden1  dense      300  leaky_relu:0.1      235,500  frozen\n");
  EXPECT_CONTAINS(s, "  hidden2  dense      100  leaky_relu:0.1       30,100  trainable\n");
  EXPECT_CONTAINS(s, "  outputs  dense        5  identity                505  trainable\n");
  EXPECT_CONTAINS(s, "  parameters: 266,105 (30,605 in fully trainable layers)\n");
  EXPECT_CONTAINS(s, "  output: 5 classes, original labels 5-9\n");
  EXPECT_CONTAINS(s, "  optimizer: adam lr 0.001 beta1 0.9 beta2 0.999 epsilon 1e-08, clip by value 1\n");
  EXPECT_CONTAINS(s, "  assumed: nothing, really\n");
}

TEST(ModelDescription, LabelsListUnusedOutputs) {
  EXPECT_EQ(label_list_text({5, 6, 7}), "5-7");
  EXPECT_EQ(label_list_text({0, 2}), "0,2");
  EXPECT_EQ(label_list_text({5, 6, kNoClass}), "5,6 (and 1 outputs that stand for no class)");
  ModelDescription m = sample();
  m.output.labels = {5, 6, kNoClass, kNoClass, kNoClass};
  EXPECT_NO_THROW(m.validate());
  EXPECT_EQ(trained_classes(m), (std::vector<int>{5, 6}));
}

TEST(ModelDescription, SpecFromModelIsTheDenseStack) {
  const ModelSpec spec = spec_from_model(sample());
  ASSERT_EQ(spec.layers.size(), 3u);
  EXPECT_EQ(spec.layers[0].fan_in, 784);
  EXPECT_EQ(spec.layers[1].fan_in, 300);
  EXPECT_EQ(spec.layers[2].fan_out, 5);
  EXPECT_FALSE(spec.layers[0].kernel_trainable);
  EXPECT_TRUE(spec.layers[1].kernel_trainable);
  EXPECT_EQ(spec.layers[1].activation.alpha, 0.1f);
  // Variables under other names cannot be trained under those names.
  ModelDescription odd = sample();
  odd.nodes[0].variables["kernel"] = "dnn/hidden1/kernal";
  EXPECT_CONTAINS(test::error_of([&] { spec_from_model(odd); }), "keeps its variables as dnn/hidden1/kernal");
}

TEST(ModelDescription, RenamedModelFollowsTheCopy) {
  const ModelDescription m = sample();
  std::map<std::string, std::string> names;
  for (const ModelNode& n : m.nodes) {
    for (const auto& [leaf, v] : n.variables) names[v] = "net/" + v;
  }
  const auto renamed = renamed_model(m, names);
  ASSERT_TRUE(renamed);
  EXPECT_EQ(renamed->nodes[0].name, "net/hidden1");
  EXPECT_EQ(renamed->frozen[0], "net/hidden1/kernel");
  names.erase("outputs/bias");
  EXPECT_FALSE(renamed_model(m, names));
}

TEST(ModelDescription, TravelsInTheBundleAndTensorFlowCheckpointsHaveNone) {
  test::TempDir dir;
  const std::string prefix = (dir / "m.ckpt").string();
  {
    BundleWriter w(prefix);
    w.add_strings(kModelDescriptionKey, Shape{}, {model_to_json(sample())});
    w.finish();
  }
  const auto read = read_model_description(BundleReader::open(prefix));
  ASSERT_TRUE(read);
  EXPECT_EQ(model_to_json(*read), model_to_json(sample()));
  EXPECT_EQ(classify_name(kModelDescriptionKey).role, VariableRole::kModelDescription);

  const std::string bad = (dir / "bad.ckpt").string();
  {
    BundleWriter w(bad);
    w.add_strings(kModelDescriptionKey, Shape{}, {"{\"format\": \"graft-model\"}"});
    w.finish();
  }
  EXPECT_CONTAINS(test::error_of([&] { read_model_description(BundleReader::open(bad)); }),
                  "(_graft_model_description): model description: version is missing");

  if (auto seed = test::fixture("tf1/seed_original")) {
    EXPECT_FALSE(read_model_description(BundleReader::open((*seed / "my_model_final.ckpt").string())));
  }
}

TEST(ResumeModel, RequestsAreCheckedAgainstTheRecord) {
  const ModelDescription m = sample();
  ModelRequest agree;
  agree.hidden = std::vector<int64_t>{300, 100};
  agree.activation = Activation{ActivationKind::kLeakyRelu, 0.1f};
  agree.classes = std::vector<int>{5, 6, 7, 8, 9};
  agree.optimizer = OptimizerKind::kAdam;
  const ResolvedModel ok = resolve_resumed_model(m, agree, false);
  EXPECT_TRUE(ok.contradictions.empty());
  EXPECT_TRUE(ok.overrides.empty());

  ModelRequest wrong;
  wrong.hidden = std::vector<int64_t>{100};
  wrong.activation = Activation{ActivationKind::kLeakyRelu, 0.2f};
  wrong.learning_rate = 0.5f;
  const ResolvedModel refused = resolve_resumed_model(m, wrong, false);
  ASSERT_EQ(refused.contradictions.size(), 3u);
  EXPECT_EQ(refused.contradictions[0].field, "hidden");
  EXPECT_EQ(refused.contradictions[0].requested, "100");
  EXPECT_EQ(refused.contradictions[0].recorded, "300,100");
  EXPECT_EQ(refused.contradictions[1].recorded, "leaky_relu:0.1 (hidden1)");
  EXPECT_EQ(refused.contradictions[2].field, "learning_rate");
  EXPECT_TRUE(refused.contradictions[2].optimizer);

  ModelRequest lr;
  lr.learning_rate = 0.5f;
  const ResolvedModel overridden = resolve_resumed_model(m, lr, true);
  EXPECT_TRUE(overridden.contradictions.empty());
  ASSERT_EQ(overridden.overrides.size(), 1u);
  EXPECT_EQ(overridden.model.optimizer->learning_rate, 0.5f);
  EXPECT_EQ(overridden.model.optimizer->clip_value, 1.0f);  // the rest as recorded
}

}  // namespace
}  // namespace graft
