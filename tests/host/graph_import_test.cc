// Over 500 lines: the graph importer's cases share one hand-built-graph
// vocabulary (tests/common/graph_builder.h) and the fixtures' expectations.
// Recovering the dense network from a TensorFlow 1 graph (PREFIX.meta): the
// real fixtures' architectures, hand-built graphs for each activation form,
// and clear refusals of what graft cannot evaluate.
#include "host/restore/graph_import.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <string>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/bundle_writer.h"
#include "checkpoint/meta_graph.h"
#include "host/restore/checkpoint_layers.h"
#include "tests/common/error_of.h"
#include "tests/common/expect_contains.h"
#include "tests/common/fixtures.h"
#include "tests/common/graph_builder.h"
#include "tests/common/meta_graph_seeds.h"

namespace graft {
namespace {

using test::error_of;
using test::GraphBuilder;
using test::two_layer_graph;

std::string fixture_prefix(const std::string& rel) {
  auto p = test::fixture(rel + ".meta");
  return p ? p->string().substr(0, p->string().size() - 5) : "";
}

ModelDescription from(const GraphBuilder& g) { return model_from_meta_graph_bytes(g.serialized(), "test.meta"); }

std::string activations(const ModelDescription& m) {
  std::string s;
  for (const ModelNode& n : m.nodes) {
    s += (s.empty() ? "" : " ") + activation_name(n.activation);
    if (n.activation.kind == ActivationKind::kLeakyRelu) s += ":" + std::to_string(n.activation.alpha);
  }
  return s;
}

TEST(GraphImportFixtures, SeedOriginalIsFiveReluLayersAndLogits) {
  const std::string prefix = fixture_prefix("tf1/seed_original/my_model_final.ckpt");
  if (prefix.empty()) GTEST_SKIP() << "fixture tf1/seed_original not found";
  const auto m = model_from_meta_graph(prefix);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->architecture(), "784-300-50-50-50-50-10 (relu)");
  EXPECT_EQ(activations(*m), "relu relu relu relu relu identity");
  EXPECT_EQ(m->nodes[0].name, "hidden1");
  EXPECT_EQ(m->nodes[5].name, "outputs");
  EXPECT_EQ(m->nodes[5].variables.at("kernel"), "outputs/kernel");
  EXPECT_EQ(m->nodes[2].variables.at("bias"), "hidden3/bias");
  EXPECT_EQ(m->source, "TensorFlow graph " + prefix + ".meta");
  EXPECT_EQ(m->output.classes, 10);
}

TEST(GraphImportFixtures, AdamDigitsIsElu) {
  const std::string prefix = fixture_prefix("tf1/adam_digits_0_to_4/ch11-exercise_model_0_to_4.ckpt");
  if (prefix.empty()) GTEST_SKIP() << "fixture tf1/adam_digits_0_to_4 not found";
  const auto m = model_from_meta_graph(prefix);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->architecture(), "784-100-100-100-100-100-5 (elu)");
  EXPECT_EQ(activations(*m), "elu elu elu elu elu identity");
}

TEST(GraphImportFixtures, ScopedNamesKeepsTheKernalVariables) {
  const std::string prefix = fixture_prefix("tf1/scoped_names/my_model_final.ckpt");
  if (prefix.empty()) GTEST_SKIP() << "fixture tf1/scoped_names not found";
  const auto m = model_from_meta_graph(prefix);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->architecture(), "784-300-100-10 (relu)");
  EXPECT_EQ(activations(*m), "relu relu identity");
  EXPECT_EQ(m->nodes[0].name, "dnn/hidden1");
  EXPECT_EQ(m->nodes[0].variables.at("kernel"), "dnn/hidden1/kernal");
  EXPECT_EQ(m->nodes[2].variables.at("bias"), "dnn/outputs/bias");
  // The description evaluates against the checkpoint as it is: no rename.
  const BundleReader reader = BundleReader::open(prefix);
  const CheckpointModel model = model_from_description(reader, *m);
  EXPECT_EQ(model.layers[1].kernel_key, "dnn/hidden2/kernal");
}

// tf.layers.batch_normalization under a training placeholder's tf.cond, before
// ELU in the hidden layers and on the logits, with dropout between the
// layers: imported node by node with the graph's epsilon and momentum.
TEST(GraphImportFixtures, BatchNormAndDropoutAreImported) {
  const std::string prefix = fixture_prefix("tf1/batchnorm/my_model_final.ckpt");
  if (prefix.empty()) GTEST_SKIP() << "fixture tf1/batchnorm not found";
  const std::optional<ModelDescription> m = model_from_meta_graph(prefix);
  ASSERT_TRUE(m.has_value());
  std::string kinds;
  for (const ModelNode& n : m->nodes) kinds += std::string(kinds.empty() ? "" : " ") + node_kind_name(n.kind);
  EXPECT_EQ(kinds,
            "dense batch_norm dropout dense batch_norm dropout dense batch_norm dropout dense batch_norm");
  const ModelNode& bn = m->nodes[1];
  EXPECT_EQ(bn.name, "batch_normalization");
  EXPECT_EQ(bn.variables.at("gamma"), "batch_normalization/gamma");
  EXPECT_EQ(bn.variables.at("moving_variance"), "batch_normalization/moving_variance");
  EXPECT_EQ(activation_name(bn.activation), "elu");
  EXPECT_EQ(activation_name(m->nodes[0].activation), "identity");
  EXPECT_FLOAT_EQ(bn.batch_norm.epsilon, 0.001f);
  EXPECT_FLOAT_EQ(bn.batch_norm.momentum, 0.9f);  // AssignMovingAvg/decay is 0.1
  // The graph's scope dnn/batch_normalization_4 reads the variables batch_normalization_3.
  EXPECT_EQ(m->nodes.back().name, "batch_normalization_3");
  EXPECT_EQ(activation_name(m->nodes.back().activation), "identity");
  EXPECT_FLOAT_EQ(m->nodes[2].rate, 0.5f);
  EXPECT_EQ(m->output.classes, 10);
  const BundleReader reader = BundleReader::open(prefix);
  const CheckpointModel model = model_from_description(reader, *m);
  EXPECT_EQ(model.spec.layers.size(), 11u);
}

TEST(GraphImportFixtures, ConvolutionsAreRefusedByName) {
  const std::string prefix = fixture_prefix("tf1/conv_adam/my_mnist_model");
  if (prefix.empty()) GTEST_SKIP() << "fixture tf1/conv_adam not found";
  const std::string e = error_of([&] { model_from_meta_graph(prefix); });
  EXPECT_CONTAINS(e, "the graph's network uses Conv2D (conv2/Conv2D)");
  EXPECT_CONTAINS(e, "MaxPool (pool3/MaxPool)");
}

TEST(GraphImport, NoMetaFileIsNoGraph) {
  test::TempDir dir;
  EXPECT_FALSE(model_from_meta_graph((dir / "model.ckpt").string()));
}

TEST(GraphImport, LeakyReluOpWithAlpha) {
  const auto g = two_layer_graph(4, 3, 2, [](GraphBuilder& b, const std::string& z) {
    (*b.node("net/hidden1/LeakyRelu", "LeakyRelu", {z}).mutable_attr())["alpha"].set_f(0.1f);
    return "net/hidden1/LeakyRelu";
  });
  const ModelDescription m = from(g);
  ASSERT_EQ(m.nodes.size(), 2u);
  EXPECT_EQ(m.nodes[0].activation.kind, ActivationKind::kLeakyRelu);
  EXPECT_FLOAT_EQ(m.nodes[0].activation.alpha, 0.1f);
  EXPECT_EQ(m.nodes[1].activation.kind, ActivationKind::kIdentity);
  EXPECT_EQ(m.input.features, 4);
  EXPECT_EQ(m.architecture(), "4-3-2 (leaky_relu)");
}

TEST(GraphImport, LeakyReluOpWithoutAlphaHasTensorFlowsDefault) {
  const auto g = two_layer_graph(4, 3, 2, [](GraphBuilder& b, const std::string& z) {
    b.node("net/hidden1/LeakyRelu", "LeakyRelu", {z});
    return "net/hidden1/LeakyRelu";
  });
  EXPECT_FLOAT_EQ(from(g).nodes[0].activation.alpha, 0.2f);
}

TEST(GraphImport, HandWrittenLeakyReluTakesAlphaFromTheConstant) {
  for (bool swapped : {false, true}) {
    const auto g = two_layer_graph(4, 3, 2, [&](GraphBuilder& b, const std::string& z) {
      const std::string alpha = b.constant("net/hidden1/alpha", 0.1f);
      b.node("net/hidden1/mul", "Mul",
             swapped ? std::vector<std::string>{z, alpha} : std::vector<std::string>{alpha, z});
      b.node("net/hidden1/Maximum", "Maximum",
             swapped ? std::vector<std::string>{z, "net/hidden1/mul"} : std::vector<std::string>{"net/hidden1/mul", z});
      return "net/hidden1/Maximum";
    });
    const ModelDescription m = from(g);
    EXPECT_EQ(m.nodes[0].activation.kind, ActivationKind::kLeakyRelu) << swapped;
    EXPECT_FLOAT_EQ(m.nodes[0].activation.alpha, 0.1f) << swapped;
  }
}

TEST(GraphImport, MaximumThatIsNotALeakyReluIsRefused) {
  const auto g = two_layer_graph(4, 3, 2, [](GraphBuilder& b, const std::string& z) {
    b.node("net/hidden1/mul", "Mul", {b.constant("net/hidden1/alpha", 2.0f), z});
    b.node("net/hidden1/Maximum", "Maximum", {"net/hidden1/mul", z});
    return "net/hidden1/Maximum";
  });
  EXPECT_CONTAINS(error_of([&] { from(g); }), "net/hidden1/Maximum computes max(2·z, z), which is not a leaky ReLU");
}

// scale * tf.where(z >= 0, z, alpha * tf.nn.elu(z)), as the book writes SELU.
std::string handwritten_selu(GraphBuilder& b, const std::string& z, float scale) {
  b.node("net/hidden1/Elu", "Elu", {z});
  b.node("net/hidden1/mul", "Mul", {b.constant("net/hidden1/alpha", 1.6732632423543772f), "net/hidden1/Elu"});
  b.node("net/hidden1/GreaterEqual", "GreaterEqual", {z, b.constant("net/hidden1/zero", 0.0f)});
  b.node("net/hidden1/Select", "Select", {"net/hidden1/GreaterEqual", z, "net/hidden1/mul"});
  b.node("net/hidden1/mul_1", "Mul", {b.constant("net/hidden1/scale", scale), "net/hidden1/Select"});
  return "net/hidden1/mul_1";
}

TEST(GraphImport, HandWrittenSelu) {
  const auto g = two_layer_graph(
      4, 3, 2, [](GraphBuilder& b, const std::string& z) { return handwritten_selu(b, z, 1.0507009873554805f); });
  EXPECT_EQ(from(g).nodes[0].activation.kind, ActivationKind::kSelu);
  const auto other = two_layer_graph(4, 3, 2, [](GraphBuilder& b, const std::string& z) {
    return handwritten_selu(b, z, 1.0f);  // not TensorFlow's SELU
  });
  EXPECT_CONTAINS(error_of([&] { from(other); }), "net/hidden1/mul_1 computes a SELU with scale 1 and alpha 1.67");
}

// tf.layers.dropout(x, training=training): a tf.cond on a placeholder whose
// default is `default_training`; returns its Merge.
std::string dropout_cond(GraphBuilder& b, const std::string& x, bool default_training, bool merge_true_branch = true) {
  tf::TensorProto* t = (*b.node("training/input", "Const").mutable_attr())["value"].mutable_tensor();
  t->set_dtype(10);  // DT_BOOL
  t->add_bool_val(default_training);
  b.node("training", "PlaceholderWithDefault", {"training/input"});
  b.node("dropout/cond/pred_id", "Identity", {"training"});
  b.node("dropout/cond/dropout/Shape/Switch", "Switch", {x, "dropout/cond/pred_id"});
  b.node("dropout/cond/dropout/Shape", "Shape", {"dropout/cond/dropout/Shape/Switch:1"});
  b.node("dropout/cond/dropout/random_uniform", "RandomUniform", {"dropout/cond/dropout/Shape"});
  b.node("dropout/cond/dropout/Floor", "Floor", {"dropout/cond/dropout/random_uniform"});
  b.node("dropout/cond/dropout/mul", "Mul", {"dropout/cond/dropout/Shape/Switch:1", "dropout/cond/dropout/Floor"});
  b.node("dropout/cond/Identity/Switch", "Switch", {x, "dropout/cond/pred_id"});
  b.node("dropout/cond/Identity", "Identity", {"dropout/cond/Identity/Switch"});
  b.node("dropout/cond/Merge", "Merge",
         {"dropout/cond/Identity", merge_true_branch ? "dropout/cond/dropout/mul" : b.constant("dropout/c", 0.f)});
  return "dropout/cond/Merge";
}

TEST(GraphImport, DropoutOffByDefaultIsTheIdentityAtInference) {
  const auto g = two_layer_graph(4, 3, 2, [](GraphBuilder& b, const std::string& z) {
    b.node("net/hidden1/Elu", "Elu", {z});
    return dropout_cond(b, "net/hidden1/Elu", false);
  });
  const ModelDescription m = from(g);
  // A dropout node (the identity in evaluation) between the dense layers.
  EXPECT_EQ(activations(m), "elu identity identity");
  ASSERT_EQ(m.nodes.size(), 3u);
  EXPECT_EQ(m.nodes[1].kind, NodeKind::kDropout);
  std::string all;
  for (const std::string& a : m.assumptions) all += a + "\n";
  EXPECT_CONTAINS(all, "dropout/cond/Merge forwards its input unchanged");
}

TEST(GraphImport, DropoutThatCanBeOnIsRefused) {
  for (const auto& [training, true_branch] : {std::pair{true, true}, std::pair{false, false}}) {
    const auto g = two_layer_graph(4, 3, 2, [&](GraphBuilder& b, const std::string& z) {
      b.node("net/hidden1/Relu", "Relu", {z});
      return dropout_cond(b, "net/hidden1/Relu", training, true_branch);
    });
    EXPECT_CONTAINS(error_of([&] { from(g); }), "the graph's network uses dropout (dropout/cond/Merge)");
  }
}

TEST(GraphImport, ResourceVariablesAreReadThroughReadVariableOp) {
  test::GraphBuilder g;
  g.placeholder("X", {-1, 4});
  for (const char* v : {"dense/kernel", "dense/bias"}) {
    GraphBuilder::shape_attr(g.node(v, "VarHandleOp"), "shape",
                             v == std::string("dense/kernel") ? std::vector<int64_t>{4, 2} : std::vector<int64_t>{2});
  }
  g.node("dense/MatMul/ReadVariableOp", "ReadVariableOp", {"dense/kernel"});
  g.node("dense/BiasAdd/ReadVariableOp", "ReadVariableOp", {"dense/bias"});
  g.node("dense/MatMul", "MatMul", {"X", "dense/MatMul/ReadVariableOp"});
  g.node("dense/BiasAdd", "BiasAdd", {"dense/MatMul", "dense/BiasAdd/ReadVariableOp"});
  g.loss("dense/BiasAdd");
  const ModelDescription m = from(g);
  ASSERT_EQ(m.nodes.size(), 1u);
  EXPECT_EQ(m.nodes[0].name, "dense");
  EXPECT_EQ(m.nodes[0].variables.at("kernel"), "dense/kernel");
  EXPECT_EQ(m.nodes[0].variables.at("bias"), "dense/bias");
}

TEST(GraphImport, ACheckpointThatLacksTheGraphsVariablesIsNamed) {
  test::TempDir dir;
  const std::string prefix = (dir / "model.ckpt").string();
  test::GraphBuilder g;
  g.placeholder("X", {-1, 4});
  g.loss(g.dense("outputs", "X", 4, 2));
  g.write_meta(prefix + ".meta");
  {
    BundleWriter w(prefix);
    const std::vector<float> k(8, 1.f);
    w.add_float("outputs/kernel", {4, 2}, k.data());
    w.finish();
  }
  const BundleReader reader = BundleReader::open(prefix);
  EXPECT_CONTAINS(error_of([&] { model_from_description(reader, *model_from_meta_graph(prefix)); }),
                  ": the graph's model needs outputs/bias, which the checkpoint lacks");
}

TEST(GraphImport, LayerOrderFollowsTheDataFlowNotTheNames) {
  test::GraphBuilder g;
  g.placeholder("X", {-1, 6});
  const std::string z1 = g.dense("layer_b", "X", 6, 5);
  g.node("net/layer_b/Tanh", "Tanh", {z1});
  const std::string z2 = g.dense("layer_a", "net/layer_b/Tanh", 5, 4, "Add");
  g.node("net/layer_a/Sigmoid", "Sigmoid", {z2});
  const std::string z3 = g.dense("layer_c", "net/layer_a/Sigmoid", 4, 3);  // linear hidden layer
  g.loss(g.dense("aaa_logits", z3, 3, 2));
  const ModelDescription m = from(g);
  ASSERT_EQ(m.nodes.size(), 4u);
  EXPECT_EQ(m.nodes[0].name, "layer_b");
  EXPECT_EQ(m.nodes[1].name, "layer_a");
  EXPECT_EQ(m.nodes[2].name, "layer_c");
  EXPECT_EQ(m.nodes[3].name, "aaa_logits");
  EXPECT_EQ(activations(m), "tanh sigmoid identity identity");
}

TEST(GraphImport, UnsupportedActivationsAndOpsAreNamed) {
  struct Case {
    const char* op;
    const char* message;
  };
  for (const Case& c : {Case{"Relu6", "the graph's network uses Relu6 (net/hidden1/act)"},
                        Case{"Softplus", "the graph's network uses Softplus (net/hidden1/act)"},
                        Case{"Square", "the graph's network uses Square (net/hidden1/act)"}}) {
    const auto g = two_layer_graph(4, 3, 2, [&](GraphBuilder& b, const std::string& z) {
      b.node("net/hidden1/act", c.op, {z});
      return "net/hidden1/act";
    });
    EXPECT_CONTAINS(error_of([&] { from(g); }), c.message);
  }
}

// Scaling inside the graph is the model's input transform
// (graph_input_transform_test.cc has its forms); a nonlinear op is refused.
TEST(GraphImport, InputScalingInsideTheGraphIsTheInputTransform) {
  test::GraphBuilder g;
  g.placeholder("X", {-1, 4});
  g.node("scaled", "RealDiv", {"X", g.constant("c255", 255.0f)});
  g.loss(g.dense("outputs", "scaled", 4, 2));
  EXPECT_DOUBLE_EQ(from(g).input.scale, 1.0 / 255.0);
  test::GraphBuilder nonlinear;
  nonlinear.placeholder("X", {-1, 4});
  nonlinear.node("squared", "Square", {"X"});
  nonlinear.loss(nonlinear.dense("outputs", "squared", 4, 2));
  EXPECT_CONTAINS(error_of([&] { from(nonlinear); }), "test.meta: the input X is transformed by Square (squared)");
}

TEST(GraphImport, SecondInputIsRefused) {
  test::GraphBuilder g;
  g.placeholder("X", {-1, 4});
  g.placeholder("X2", {-1, 4});
  g.node("both", "Add", {"X", "X2"});
  g.loss(g.dense("outputs", "both", 4, 2));
  EXPECT_CONTAINS(error_of([&] { from(g); }), "uses two inputs (");
}

TEST(GraphImport, LogitsFromArgMaxWhenThereIsNoLossSaySo) {
  test::GraphBuilder g;
  g.placeholder("X", {-1, 4});
  g.node("predict", "ArgMax", {g.dense("outputs", "X", 4, 2), g.constant("axis", 1.0f)});
  const ModelDescription m = from(g);
  EXPECT_EQ(m.nodes.size(), 1u);
  ASSERT_FALSE(m.assumptions.empty());
  EXPECT_CONTAINS(m.assumptions[0], "the graph's logits feed ArgMax, not that loss");
}

TEST(GraphImport, TwoHeadsAreRefused) {
  test::GraphBuilder g;
  g.placeholder("X", {-1, 4});
  g.placeholder("y", {-1});
  g.node("loss_a", "SparseSoftmaxCrossEntropyWithLogits", {g.dense("head_a", "X", 4, 2), "y"});
  g.node("loss_b", "SparseSoftmaxCrossEntropyWithLogits", {g.dense("head_b", "X", 4, 3), "y"});
  EXPECT_CONTAINS(error_of([&] { from(g); }),
                  "the graph has more than one head (loss_a and loss_b read different logits)");
}

TEST(GraphImport, MalformedGraphsGiveOneLineErrors) {
  {
    test::GraphBuilder g;
    g.placeholder("X", {-1, 4});
    g.node("net/MatMul", "MatMul", {"X", "missing/kernel/read"});
    g.loss("net/MatMul");
    EXPECT_CONTAINS(error_of([&] { from(g); }),
                    "test.meta: net/MatMul reads missing/kernel/read, which the graph lacks");
  }
  {  // a layer fed by its own output: the walk stops instead of looping
    test::GraphBuilder g;
    g.placeholder("X", {-1, 3});
    const std::string w = g.variable("h/kernel", {3, 3});
    const std::string b = g.variable("h/bias", {3});
    g.node("h/MatMul", "MatMul", {"h/Relu", w});
    g.node("h/BiasAdd", "BiasAdd", {"h/MatMul", b});
    g.node("h/Relu", "Relu", {"h/BiasAdd"});
    g.loss("h/BiasAdd");
    EXPECT_CONTAINS(error_of([&] { from(g); }), "the network's layers form a cycle at h/MatMul");
  }
  {
    test::GraphBuilder g;
    g.placeholder("X", {-1, 4});
    EXPECT_CONTAINS(error_of([&] { from(g); }), "no loss, InTopK or ArgMax");
  }
  {  // the bias does not fit the kernel
    test::GraphBuilder g;
    g.placeholder("X", {-1, 4});
    const std::string w = g.variable("o/kernel", {4, 2});
    const std::string b = g.variable("o/bias", {3});
    g.node("o/MatMul", "MatMul", {"X", w});
    g.node("o/BiasAdd", "BiasAdd", {"o/MatMul", b});
    g.loss("o/BiasAdd");
    EXPECT_CONTAINS(error_of([&] { from(g); }),
                    "the bias o/bias of o/BiasAdd has shape [3] but the kernel o/kernel is [4, 2]");
  }
  {  // the placeholder does not fit the first kernel
    test::GraphBuilder g;
    g.placeholder("X", {-1, 5});
    g.loss(g.dense("o", "X", 4, 2));
    EXPECT_CONTAINS(error_of([&] { from(g); }), "the input X has shape [-1, 5] but net/o/MatMul takes 4 features");
  }
}

TEST(GraphImport, CyclesOfIdentityNodesEndInAnError) {
  test::GraphBuilder g;
  g.placeholder("X", {-1, 4});
  g.node("k1", "Identity", {"k2"});
  g.node("k2", "Identity", {"k1"});
  g.variable("o/bias", {2});
  g.node("o/MatMul", "MatMul", {"X", "k1"});
  g.node("o/BiasAdd", "BiasAdd", {"o/MatMul", "o/bias/read"});
  g.loss("o/BiasAdd");
  EXPECT_CONTAINS(error_of([&] { from(g); }), "test.meta: a cycle of Identity nodes reaches k");
}

// Every truncation and thousands of single-byte changes of a graph end in a
// description that validates or in a graft::Error: never another exception
// (which would fail this test), a crash or a hang.
TEST(GraphImport, DamagedGraphsEndInErrorsOrDescriptions) {
  std::vector<std::string> graphs{two_layer_graph(4, 3, 2, [](GraphBuilder& b, const std::string& z) {
                                    b.node("net/hidden1/mul", "Mul", {b.constant("net/hidden1/alpha", 0.1f), z});
                                    b.node("net/hidden1/Maximum", "Maximum", {"net/hidden1/mul", z});
                                    return "net/hidden1/Maximum";
                                  }).serialized()};
  // The fused and tf.contrib batch norms, the input transform (the fuzz seeds).
  for (const auto& [name, bytes] : test::meta_graph_seeds()) graphs.push_back(bytes);
  if (auto seed = test::fixture("tf1/scoped_names/my_model_final.ckpt.meta")) {
    std::ifstream in(*seed, std::ios::binary);
    graphs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  int described = 0, refused = 0;
  auto check = [&](const std::string& bytes) {
    try {
      model_from_meta_graph_bytes(bytes, "damaged.meta").validate();
      ++described;
    } catch (const Error&) {
      ++refused;
    }
  };
  std::mt19937 rng(13);
  for (const std::string& bytes : graphs) {
    for (std::size_t n = 0; n < bytes.size(); n += 1 + bytes.size() / 2000) check(bytes.substr(0, n));
    for (int i = 0; i < 2000; ++i) {
      std::string b = bytes;
      b[rng() % b.size()] = static_cast<char>(rng());
      check(b);
    }
  }
  EXPECT_GT(described, 0);
  EXPECT_GT(refused, 0);
}

TEST(GraphImport, UnreadableMetaFilesAreNamed) {
  test::TempDir dir;
  const std::string prefix = (dir / "model.ckpt").string();
  const auto g = two_layer_graph(4, 3, 2, [](GraphBuilder& b, const std::string& z) {
    b.node("net/hidden1/Relu", "Relu", {z});
    return "net/hidden1/Relu";
  });
  g.write_meta(prefix + ".meta");
  ASSERT_TRUE(model_from_meta_graph(prefix));
  std::string bytes;
  {
    std::ifstream in(prefix + ".meta", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  for (const std::string& bad : {bytes.substr(0, bytes.size() / 2), std::string("garbage\xff\xff\xff", 10)}) {
    std::ofstream(prefix + ".meta", std::ios::binary | std::ios::trunc) << bad;
    const std::string e = error_of([&] { model_from_meta_graph(prefix); });
    EXPECT_CONTAINS(e, prefix + ".meta: ");
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
  std::ofstream(prefix + ".meta", std::ios::binary | std::ios::trunc) << "";
  EXPECT_CONTAINS(error_of([&] { model_from_meta_graph(prefix); }), "holds no graph nodes");
  // A huge file is refused by its size, before it is read (sparse: no disk used).
  ASSERT_EQ(::truncate((prefix + ".meta").c_str(), static_cast<off_t>(kMaxMetaGraphBytes + 1)), 0);
  EXPECT_CONTAINS(error_of([&] { model_from_meta_graph(prefix); }),
                  "the graph is " + std::to_string(kMaxMetaGraphBytes + 1) + " bytes, more than graft reads");
}

TEST(GraphImport, DescriptionEvaluatesAgainstABundle) {
  test::TempDir dir;
  const std::string prefix = (dir / "model.ckpt").string();
  const auto g = two_layer_graph(4, 3, 2, [](GraphBuilder& b, const std::string& z) {
    (*b.node("net/hidden1/LeakyRelu", "LeakyRelu", {z}).mutable_attr())["alpha"].set_f(0.25f);
    return "net/hidden1/LeakyRelu";
  });
  g.write_meta(prefix + ".meta");
  {
    BundleWriter w(prefix);
    const std::vector<float> k1(12, 0.5f), b1(3, 0.f), k2(6, 1.f), b2(2, 0.f);
    w.add_float("hidden1/kernel", {4, 3}, k1.data());
    w.add_float("hidden1/bias", {3}, b1.data());
    w.add_float("outputs/kernel", {3, 2}, k2.data());
    w.add_float("outputs/bias", {2}, b2.data());
    w.finish();
  }
  const BundleReader reader = BundleReader::open(prefix);
  const CheckpointModel model = model_from_description(reader, *model_from_meta_graph(prefix));
  ASSERT_EQ(model.spec.layers.size(), 2u);
  EXPECT_EQ(model.spec.layers[0].activation.kind, ActivationKind::kLeakyRelu);
  EXPECT_FLOAT_EQ(model.spec.layers[0].activation.alpha, 0.25f);
  EXPECT_EQ(model.spec.layers[1].activation.kind, ActivationKind::kIdentity);
}

}  // namespace
}  // namespace graft

namespace graft {
namespace {

// Batch norm after the activation, in inference-only form (no tf.cond:
// training fixed to False), without gamma (scale off): the node carries the
// identity, the dense layer below keeps its ReLU, and the momentum the graph
// does not show is said as an assumption.
TEST(GraphImport, BatchNormAfterTheActivationWithoutGamma) {
  const auto g = two_layer_graph(4, 3, 2, [](GraphBuilder& b, const std::string& z) {
    b.node("net/hidden1/Relu", "Relu", {z});
    const std::string beta = b.variable("bn/beta", {3});
    const std::string mean = b.variable("bn/moving_mean", {3});
    const std::string var = b.variable("bn/moving_variance", {3});
    b.node("net/bn/add", "Add", {var, b.constant("net/bn/add/y", 0.002f)});
    b.node("net/bn/Rsqrt", "Rsqrt", {"net/bn/add"});
    b.node("net/bn/mul_1", "Mul", {"net/hidden1/Relu", "net/bn/Rsqrt"});
    b.node("net/bn/mul_2", "Mul", {mean, "net/bn/Rsqrt"});
    b.node("net/bn/sub", "Sub", {beta, "net/bn/mul_2"});
    b.node("net/bn/add_1", "Add", {"net/bn/mul_1", "net/bn/sub"});
    return "net/bn/add_1";
  });
  const ModelDescription m = from(g);
  ASSERT_EQ(m.nodes.size(), 3u);
  EXPECT_EQ(activations(m), "relu identity identity");
  const ModelNode& bn = m.nodes[1];
  EXPECT_EQ(bn.kind, NodeKind::kBatchNorm);
  EXPECT_EQ(bn.name, "bn");
  EXPECT_FALSE(bn.batch_norm.scale);
  EXPECT_TRUE(bn.batch_norm.center);
  EXPECT_EQ(bn.variables.count("gamma"), 0u);
  EXPECT_EQ(bn.variables.at("beta"), "bn/beta");
  EXPECT_FLOAT_EQ(bn.batch_norm.epsilon, 0.002f);
  std::string all;
  for (const std::string& a : m.assumptions) all += a + "\n";
  EXPECT_CONTAINS(all, "bn: momentum 0.99 (tf.layers' default; the graph has no moving-average update for it)");
  ASSERT_EQ(m.read.size(), 1u);
  EXPECT_CONTAINS(m.read[0], "bn (net/bn/add_1): batch norm after the activation, epsilon 0.002 read from the graph");
}

}  // namespace
}  // namespace graft
