// The batch-norm forms of TensorFlow 1 graphs beyond the unfused tf.layers
// one (host/restore/graph_batch_norm.h): fused (FusedBatchNorm, V2, V3; with
// and without the training cond; without scale or center; NHWC and NCHW;
// Reshape and ExpandDims/Squeeze glue; each way the graph records momentum)
// and tf.contrib.layers.batch_norm's own (no gamma, a cond over the
// statistics), each imported into the model description and, end to end,
// evaluated against a checkpoint written here whose logits are computed
// independently (tests/common/tf_reference.h). And the refusals.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "host/predict/predictions.h"
#include "host/restore/checkpoint_layers.h"
#include "host/restore/graph_import.h"
#include "tests/common/error_of.h"
#include "tests/common/expect_contains.h"
#include "tests/common/fixtures.h"
#include "tests/common/graph_builder.h"
#include "tests/common/graph_forms.h"
#include "tests/common/tf_reference.h"

namespace graft {
namespace {

using test::ContribBatchNormForm;
using test::error_of;
using test::FusedBatchNormForm;
using test::FusedMomentum;
using test::GraphBuilder;

ModelDescription from(const GraphBuilder& g) { return model_from_meta_graph_bytes(g.serialized(), "test.meta"); }

std::string joined(const std::vector<std::string>& lines) {
  std::string all;
  for (const std::string& l : lines) all += l + "\n";
  return all;
}

std::string kinds(const ModelDescription& m) {
  std::string s;
  for (const ModelNode& n : m.nodes) s += std::string(s.empty() ? "" : " ") + node_kind_name(n.kind);
  return s;
}

// X [-1, 4] -> hidden1 (3 units) -> batch norm `bn` then ReLU (or ReLU then
// the batch norm, `after`) -> outputs (2 classes).
template <class Norm>
GraphBuilder dense_bn_graph(const Norm& bn, bool after = false) {
  GraphBuilder g;
  g.placeholder("X", {-1, 4});
  const std::string z = g.dense("hidden1", "X", 4, 3);
  std::string h;
  if (after) {
    g.node("net/hidden1/Relu", "Relu", {z});
    h = bn(g, "net/hidden1/Relu");
  } else {
    g.node("net/hidden1/Relu", "Relu", {bn(g, z)});
    h = "net/hidden1/Relu";
  }
  g.loss(g.dense("outputs", h, 3, 2));
  return g;
}

GraphBuilder fused_graph(const FusedBatchNormForm& f, const std::string& scope = "hidden1/BatchNorm",
                         bool after = false) {
  return dense_bn_graph(
      [&](GraphBuilder& g, const std::string& x) { return test::fused_batch_norm(g, x, scope, 3, f); }, after);
}

GraphBuilder contrib_graph(const ContribBatchNormForm& f, bool after = false) {
  return dense_bn_graph(
      [&](GraphBuilder& g, const std::string& x) { return test::contrib_batch_norm(g, x, "hidden1/BatchNorm", 3, f); },
      after);
}

struct FusedCase {
  FusedBatchNormForm form;
  double momentum;            // expected (read or assumed)
  const char* momentum_note;  // in the read note, or "" when assumed
};

void PrintTo(const FusedCase& c, std::ostream* os) { *os << c.form.op << " " << c.form.format; }

FusedBatchNormForm form(const std::string& op, bool cond, FusedMomentum m) {
  FusedBatchNormForm f;
  f.op = op;
  f.cond = cond;
  f.momentum = m;
  return f;
}

std::vector<FusedCase> fused_cases() {
  std::vector<FusedCase> cases;
  for (const char* op : {"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"}) {
    const std::string o = op;
    // tf.layers/Keras fused=True with a training placeholder: momentum from smart_cond(training, m, 1).
    cases.push_back({form(o, true, FusedMomentum::kKerasCond), 0.99, "1 - its AssignMovingAvg decay"});
    // tf.contrib with is_training a placeholder: AssignSub with a decay Const.
    FusedBatchNormForm contrib = form(o, true, FusedMomentum::kDecay);
    contrib.scale = false;
    contrib.contrib_reshape_back = true;
    contrib.momentum_value = 0.9;
    cases.push_back({contrib, 0.9, "1 - its AssignMovingAvg decay"});
    // Training fixed to False: no cond and no update (tf.contrib's default decay assumed).
    cases.push_back({form(o, false, FusedMomentum::kNone), 0.999, ""});
  }
  FusedBatchNormForm v3 = form("FusedBatchNormV3", true, FusedMomentum::kAvgFactor);
  v3.format = "NCHW";
  v3.center = false;
  v3.epsilon = 1e-5f;
  cases.push_back({v3, 0.99, "1 - the exponential_avg_factor of hidden1/BatchNorm/cond/FusedBatchNormV3"});
  // Keras with resource variables: ReadVariableOp in the branches, AssignSubVariableOp.
  for (FusedMomentum m : {FusedMomentum::kKerasCond, FusedMomentum::kDecay}) {
    FusedBatchNormForm resource = form("FusedBatchNormV3", m == FusedMomentum::kKerasCond, m);
    resource.resource = true;
    cases.push_back({resource, 0.99, "1 - its AssignMovingAvg decay"});
  }
  // tf.layers fused in TF 1.4-1.9: decay = smart_cond(training, 1 - momentum, 0).
  FusedBatchNormForm layers = form("FusedBatchNorm", true, FusedMomentum::kDecayCond);
  layers.momentum_value = 0.9;
  cases.push_back({layers, 0.9, "1 - its AssignMovingAvg decay"});
  FusedBatchNormForm squeezed = form("FusedBatchNormV2", true, FusedMomentum::kKerasCond);
  squeezed.expand_dims = true;
  squeezed.scale = squeezed.center = false;
  cases.push_back({squeezed, 0.99, "1 - its AssignMovingAvg decay"});
  FusedBatchNormForm squeezed_nchw = squeezed;
  squeezed_nchw.format = "NCHW";
  squeezed_nchw.cond = false;
  squeezed_nchw.momentum = FusedMomentum::kNone;
  cases.push_back({squeezed_nchw, 0.999, ""});
  FusedBatchNormForm forced = form("FusedBatchNormV3", true, FusedMomentum::kDecay);
  forced.scale = false;
  forced.contrib_forced_updates = true;
  forced.contrib_reshape_back = true;
  forced.momentum_value = 0.999;
  cases.push_back({forced, 0.999, "1 - its AssignMovingAvg decay"});
  return cases;
}

class FusedBatchNormImport : public ::testing::TestWithParam<FusedCase> {};

TEST_P(FusedBatchNormImport, IsOneBatchNormNodeWithTheGraphsAttributes) {
  const FusedCase& c = GetParam();
  const FusedBatchNormForm& f = c.form;
  for (bool after : {false, true}) {
    SCOPED_TRACE(after ? "after the activation" : "before the activation");
    const ModelDescription m = from(fused_graph(f, "hidden1/BatchNorm", after));
    ASSERT_EQ(kinds(m), "dense batch_norm dense");
    const ModelNode& bn = m.nodes[1];
    EXPECT_EQ(bn.name, "hidden1/BatchNorm");
    EXPECT_EQ(bn.units, 3);
    // Placement: before the activation the batch norm carries it, after it the dense layer does.
    EXPECT_EQ(activation_name(bn.activation), after ? "identity" : "relu");
    EXPECT_EQ(activation_name(m.nodes[0].activation), after ? "relu" : "identity");
    EXPECT_FLOAT_EQ(bn.batch_norm.epsilon, f.epsilon);
    EXPECT_NEAR(bn.batch_norm.momentum, c.momentum, 1e-7);
    EXPECT_EQ(bn.batch_norm.scale, f.scale);
    EXPECT_EQ(bn.batch_norm.center, f.center);
    EXPECT_EQ(bn.variables.count("gamma"), f.scale ? 1u : 0u);
    EXPECT_EQ(bn.variables.count("beta"), f.center ? 1u : 0u);
    if (f.scale) {
      EXPECT_EQ(bn.variables.at("gamma"), "hidden1/BatchNorm/gamma");
    }
    EXPECT_EQ(bn.variables.at("moving_mean"), "hidden1/BatchNorm/moving_mean");
    EXPECT_EQ(bn.variables.at("moving_variance"), "hidden1/BatchNorm/moving_variance");
    const std::string read = joined(m.read), assumed = joined(m.assumptions);
    EXPECT_CONTAINS(read, "hidden1/BatchNorm (hidden1/BatchNorm/" + std::string(f.cond ? "cond/Merge" : f.op) +
                              "): fused (" + f.op + " " + f.format + ") batch norm " +
                              (after ? "after the activation" : "before the activation (relu)"));
    if (*c.momentum_note) {
      EXPECT_CONTAINS(read, std::string(c.momentum_note));
    } else {
      EXPECT_CONTAINS(assumed, "hidden1/BatchNorm: momentum 0.999 (tf.contrib.layers.batch_norm's default decay");
    }
    if (!f.scale || !f.center) {
      EXPECT_CONTAINS(read, std::string(!f.scale && !f.center ? "scale and center off"
                                        : !f.scale            ? "scale off (no gamma in the graph)"
                                                              : "center off (no beta in the graph)"));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Forms, FusedBatchNormImport, ::testing::ValuesIn(fused_cases()),
                         [](const ::testing::TestParamInfo<FusedCase>& info) {
                           const FusedBatchNormForm& f = info.param.form;
                           return f.op + (f.cond ? "Cond" : "NoCond") + (f.resource ? "Resource" : "") +
                                  (f.scale ? "" : "NoScale") + (f.center ? "" : "NoCenter") + f.format +
                                  (f.expand_dims ? "ExpandDims" : "") + (f.contrib_forced_updates ? "Forced" : "") +
                                  std::to_string(info.index);
                         });

// A fused batch norm outside a tf.contrib scope has tf.layers' and Keras's
// default momentum when the graph shows none.
TEST(FusedBatchNormImport, KerasScopeAssumesKerasMomentum) {
  const ModelDescription m =
      from(fused_graph(form("FusedBatchNormV3", false, FusedMomentum::kNone), "batch_normalization"));
  EXPECT_DOUBLE_EQ(m.nodes[1].batch_norm.momentum, 0.99);
  EXPECT_CONTAINS(joined(m.assumptions), "batch_normalization: momentum 0.99 (tf.layers' default");
}

// End to end: a checkpoint with the graph's variables evaluates to the
// logits TensorFlow's definitions give (in double, here).
struct EndToEnd {
  test::TempDir dir;
  std::string prefix = (dir / "model.ckpt").string();
  test::TfValues v{11};
  std::vector<double> x;  // [rows, 4]
  static constexpr int64_t kRows = 16;

  explicit EndToEnd(const GraphBuilder& g) {
    g.write_meta(prefix + ".meta");
    v.random("hidden1/kernel", {4, 3}, -1.f, 1.f);
    v.random("hidden1/bias", {3}, -0.5f, 0.5f);
    v.random("outputs/kernel", {3, 2}, -1.f, 1.f);
    v.random("outputs/bias", {2}, -0.5f, 0.5f);
    std::mt19937 rng(5);
    std::uniform_real_distribution<double> u(-2.0, 2.0);
    for (int64_t i = 0; i < kRows * 4; ++i) x.push_back(static_cast<float>(u(rng)));
  }

  void batch_norm(const std::string& scope, bool gamma, bool beta) {
    if (gamma) v.random(scope + "/gamma", {3}, 0.5f, 2.f);
    if (beta) v.random(scope + "/beta", {3}, -1.f, 1.f);
    v.random(scope + "/moving_mean", {3}, -1.f, 1.f);
    v.random(scope + "/moving_variance", {3}, 0.2f, 3.f);
  }

  // The imported model's probabilities for x, and TensorFlow's (hidden1, the
  // batch norm at `scope` before ReLU, outputs).
  void check(const std::string& scope, double epsilon) {
    v.write(prefix);
    const BundleReader reader = BundleReader::open(prefix);
    const CheckpointModel model = model_from_description(reader, *model_from_meta_graph(prefix));
    const std::vector<float> features(x.begin(), x.end());
    const RowPredictions p = predict_rows(reader, model, features.data(), kRows);
    std::vector<double> z = test::dense_reference(x, kRows, 4, 3, v["hidden1/kernel"], v["hidden1/bias"]);
    test::batch_norm_reference(z, 3, v.has(scope + "/gamma") ? &v[scope + "/gamma"] : nullptr,
                               v.has(scope + "/beta") ? &v[scope + "/beta"] : nullptr, v[scope + "/moving_mean"],
                               v[scope + "/moving_variance"], epsilon);
    test::relu_reference(z);
    const std::vector<double> want =
        test::softmax_reference(test::dense_reference(z, kRows, 3, 2, v["outputs/kernel"], v["outputs/bias"]), 2);
    ASSERT_EQ(p.probabilities.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(p.probabilities[i], want[i], 2e-6) << i;
  }
};

TEST(FusedBatchNormImport, EvaluatesAsTensorFlowDefinesIt) {
  FusedBatchNormForm nchw = form("FusedBatchNormV3", true, FusedMomentum::kAvgFactor);
  nchw.format = "NCHW";
  nchw.center = false;
  nchw.epsilon = 0.01f;
  FusedBatchNormForm contrib = form("FusedBatchNorm", false, FusedMomentum::kNone);
  contrib.scale = false;
  contrib.expand_dims = true;
  FusedBatchNormForm resource = form("FusedBatchNormV3", true, FusedMomentum::kKerasCond);
  resource.resource = true;
  for (const FusedBatchNormForm& f :
       {nchw, contrib, resource, form("FusedBatchNormV2", true, FusedMomentum::kKerasCond)}) {
    SCOPED_TRACE(f.op + " " + f.format);
    EndToEnd e(fused_graph(f));
    e.batch_norm("hidden1/BatchNorm", f.scale, f.center);
    e.check("hidden1/BatchNorm", f.epsilon);
  }
}

TEST(ContribBatchNormImport, WithAndWithoutItsCondAndWithoutGamma) {
  for (bool cond : {true, false}) {
    for (bool after : {false, true}) {
      SCOPED_TRACE(std::string(cond ? "cond" : "no cond") + (after ? ", after" : ", before"));
      ContribBatchNormForm f;
      f.cond = cond;
      f.epsilon = 0.002f;
      const ModelDescription m = from(contrib_graph(f, after));
      ASSERT_EQ(kinds(m), "dense batch_norm dense");
      const ModelNode& bn = m.nodes[1];
      EXPECT_EQ(bn.name, "hidden1/BatchNorm");
      EXPECT_EQ(activation_name(bn.activation), after ? "identity" : "relu");
      EXPECT_FALSE(bn.batch_norm.scale);  // no gamma: scale off, not an error
      EXPECT_TRUE(bn.batch_norm.center);
      EXPECT_EQ(bn.variables.count("gamma"), 0u);
      EXPECT_EQ(bn.variables.at("beta"), "hidden1/BatchNorm/beta");
      EXPECT_FLOAT_EQ(bn.batch_norm.epsilon, 0.002f);
      // decay 0.999: read from the update inside the cond, else tf.contrib's default assumed.
      EXPECT_NEAR(bn.batch_norm.momentum, 0.999, 1e-7);
      if (cond) {
        EXPECT_CONTAINS(joined(m.read), "momentum 0.999 (1 - its AssignMovingAvg decay)");
      } else {
        EXPECT_CONTAINS(joined(m.assumptions), "hidden1/BatchNorm: momentum 0.999 (tf.contrib.layers.batch_norm's");
      }
    }
  }
}

TEST(ContribBatchNormImport, EvaluatesAsTensorFlowDefinesIt) {
  for (bool gamma : {false, true}) {
    ContribBatchNormForm f;
    f.gamma = gamma;
    f.decay = 0.99;
    EndToEnd e(contrib_graph(f));
    e.batch_norm("hidden1/BatchNorm", gamma, true);
    e.check("hidden1/BatchNorm", f.epsilon);
    EXPECT_NEAR(model_from_meta_graph(e.prefix)->nodes[1].batch_norm.momentum, 0.99, 1e-7);
  }
}

TEST(BatchNormImportRefusals, StatisticsThatAreNotVariables) {
  FusedBatchNormForm f = form("FusedBatchNormV3", true, FusedMomentum::kKerasCond);
  f.mean_constant = true;
  EXPECT_CONTAINS(error_of([&] { from(fused_graph(f)); }),
                  "test.meta: hidden1/BatchNorm/cond/FusedBatchNormV3_1 (FusedBatchNormV3) normalises with a mean "
                  "that is not a variable (Const hidden1/BatchNorm/fixed_mean)");
  // Unfused: x * inv + (beta - c * inv) with a constant c is no batch norm graft reads; named as one.
  const auto unfused = dense_bn_graph([](GraphBuilder& g, const std::string& x) {
    const std::string var = g.variable("bn/moving_variance", {3});
    g.node("bn/add", "Add", {var, g.constant("bn/add/y", 0.001f)});
    g.node("bn/Rsqrt", "Rsqrt", {"bn/add"});
    g.node("bn/mul_1", "Mul", {x, "bn/Rsqrt"});
    g.node("bn/mul_2", "Mul", {g.constant("bn/mean", {0.5f}, {3}), "bn/Rsqrt"});
    g.node("bn/sub", "Sub", {g.variable("bn/beta", {3}), "bn/mul_2"});
    g.node("bn/add_1", "Add", {"bn/mul_1", "bn/sub"});
    return "bn/add_1";
  });
  EXPECT_CONTAINS(error_of([&] { from(unfused); }), "the graph's network uses batch normalization (bn/");
}

TEST(BatchNormImportRefusals, BatchStatisticsAtInferenceAndCondsWithoutADefault) {
  FusedBatchNormForm training = form("FusedBatchNormV3", false, FusedMomentum::kNone);
  training.training_branch_only = true;  // tf.contrib's default is_training=True
  EXPECT_CONTAINS(error_of([&] { from(fused_graph(training)); }),
                  "hidden1/BatchNorm/FusedBatchNormV3 (FusedBatchNormV3) normalises with the batch's statistics "
                  "(is_training true) and the graph has no inference branch");
  FusedBatchNormForm plain = form("FusedBatchNormV3", true, FusedMomentum::kKerasCond);
  plain.plain_placeholder = true;  // tf.placeholder(tf.bool): no default
  const std::string message =
      "runs in a tf.cond on training (Placeholder), which is not a placeholder that defaults "
      "to false";
  EXPECT_CONTAINS(error_of([&] { from(fused_graph(plain)); }),
                  "the batch normalization at hidden1/BatchNorm/cond/Merge " + message);
  GraphBuilder contrib = dense_bn_graph([](GraphBuilder& g, const std::string& x) {
    test::training_flag(g, true);
    return test::contrib_batch_norm(g, x, "hidden1/BatchNorm", 3, ContribBatchNormForm{});
  });
  EXPECT_CONTAINS(error_of([&] { from(contrib); }),
                  "the batch normalization at hidden1/BatchNorm/batchnorm/add_1 " + message);
}

// tf.contrib.layers.fully_connected(normalizer_fn=batch_norm), as the
// book's first edition writes it: the layer has no bias (the batch norm's
// beta stands for it), which graft's dense layers cannot express yet.
TEST(BatchNormImportRefusals, ADenseLayerWithoutBias) {
  GraphBuilder g;
  g.placeholder("X", {-1, 4});
  g.node("hidden1/MatMul", "MatMul", {"X", g.variable("hidden1/weights", {4, 3})});
  const std::string bn = test::contrib_batch_norm(g, "hidden1/MatMul", "hidden1/BatchNorm", 3, ContribBatchNormForm{});
  g.node("hidden1/Relu", "Relu", {bn});
  g.loss(g.dense("outputs", "hidden1/Relu", 3, 2));
  EXPECT_CONTAINS(error_of([&] { from(g); }),
                  "test.meta: hidden1/MatMul (MatMul) multiplies by hidden1/weights and adds no bias");
}

TEST(BatchNormImportRefusals, ConstantScaleOrOffsetOtherThanOnesOrZeros) {
  FusedBatchNormForm f = form("FusedBatchNormV3", false, FusedMomentum::kNone);
  f.scale = false;
  GraphBuilder g = fused_graph(f);
  g.at("hidden1/BatchNorm/Const").mutable_attr()->at("value").mutable_tensor()->set_float_val(0, 2.0f);
  EXPECT_CONTAINS(error_of([&] { from(g); }),
                  "hidden1/BatchNorm/FusedBatchNormV3 (FusedBatchNormV3) takes its scale from "
                  "hidden1/BatchNorm/Const (Const), which is neither a variable nor a constant of ones");
}

TEST(BatchNormImportRefusals, ReshapesThatDoNotKeepTheFeatures) {
  GraphBuilder g = fused_graph(form("FusedBatchNormV3", false, FusedMomentum::kNone));
  // NHWC wants [-1, 1, 1, C]: [-1, 3, 1, 1] puts the features where NCHW keeps them.
  tf::TensorProto* shape = g.at("hidden1/BatchNorm/Reshape/shape").mutable_attr()->at("value").mutable_tensor();
  const std::vector<int32_t> nchw{-1, 3, 1, 1};
  shape->set_tensor_content(std::string(reinterpret_cast<const char*>(nchw.data()), 16));
  EXPECT_CONTAINS(error_of([&] { from(g); }),
                  "hidden1/BatchNorm/FusedBatchNormV3 (FusedBatchNormV3, NHWC) normalises x as reshaped by "
                  "hidden1/BatchNorm/Reshape (Reshape), not a dense layer's [N, 3] as [N, 1, 1, C]");
}

}  // namespace
}  // namespace graft
