// `graft eval` and `graft inspect` of TensorFlow 1 checkpoints read the
// network from the graph beside them (PREFIX.meta): no --activation, no
// --rename, and a clear refusal where the graph holds what graft lacks.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "checkpoint/bundle_writer.h"
#include "host/data/idx.h"
#include "tests/cli/cli_util.h"
#include "tests/common/expect_contains.h"
#include "tests/common/fixtures.h"
#include "tests/common/graph_builder.h"
#include "tests/common/synthetic_data.h"

namespace graft {
namespace {

using test::graft;
using test::quote;

using test::accuracy_in;
using test::prefix_of;

struct GraphEvalCase {
  const char* name;
  const char* prefix;
  const char* flags;
  double accuracy;  // TensorFlow's, on MNIST t10k
};

void PrintTo(const GraphEvalCase& c, std::ostream* os) { *os << c.prefix << " " << c.flags; }

class CliGraphEval : public ::testing::TestWithParam<GraphEvalCase> {};

TEST_P(CliGraphEval, NeedsNoModelFlags) {
  const GraphEvalCase c = GetParam();
  const std::string prefix = prefix_of(c.prefix);
  auto mnist = test::fixture("mnist");
  if (prefix.empty() || !mnist) GTEST_SKIP() << "fixture " << c.prefix << " or mnist not found";
  const auto r = graft("eval " + quote(prefix) + " --data " + quote(mnist->string()) + " --device cpu " + c.flags);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "(as its TensorFlow graph " + prefix + ".meta defines it)");
  EXPECT_EQ(r.output.find("assumed: activation"), std::string::npos) << r.output;
  EXPECT_NEAR(accuracy_in(r.output), c.accuracy, 0.0001) << r.output;
}

INSTANTIATE_TEST_SUITE_P(
    Tf1, CliGraphEval,
    ::testing::Values(GraphEvalCase{"SeedOriginal", "tf1/seed_original/my_model_final.ckpt", "", 0.9619},
                      GraphEvalCase{"SeedNew", "tf1/seed_new/my_new_model_final.ckpt", "", 0.9674},
                      GraphEvalCase{"AdamDigits0To4Elu", "tf1/adam_digits_0_to_4/ch11-exercise_model_0_to_4.ckpt",
                                    "--classes 0-4", 0.9840},
                      GraphEvalCase{"ScopedNamesWithoutRenames", "tf1/scoped_names/my_model_final.ckpt", "", 0.9459}),
    [](const ::testing::TestParamInfo<GraphEvalCase>& info) { return std::string(info.param.name); });

TEST(CliGraph, RefusalsAndContradictionsAreOneLineErrors) {
  const std::string adam = prefix_of("tf1/adam_digits_0_to_4/ch11-exercise_model_0_to_4.ckpt");
  const std::string bn = prefix_of("tf1/batchnorm/my_model_final.ckpt");
  const std::string conv = prefix_of("tf1/conv_adam/my_mnist_model");
  auto mnist = test::fixture("mnist");
  if (adam.empty() || bn.empty() || conv.empty() || !mnist) GTEST_SKIP() << "fixtures not found";
  const std::string data = " --data " + quote(mnist->string()) + " --device cpu";
  struct Case {
    std::string args, message;
  };
  for (const Case& c : {
           Case{quote(adam) + data + " --classes 0-4 --activation relu",
                "--activation relu contradicts the graph " + adam + ".meta (hidden1 uses elu)"},
           Case{quote(conv) + data, conv + ".meta: the graph's network uses Conv2D (conv2/Conv2D)"},
       }) {
    const auto r = graft("eval " + c.args);
    EXPECT_EQ(r.status, 1) << c.args << "\n" << r.output;
    EXPECT_CONTAINS(r.output, "graft eval: error: " + c.message);
    EXPECT_EQ(test::line_count(r.output), 1) << r.output;
  }
}

TEST(CliGraph, InspectPrintsTheRecoveredArchitecture) {
  const std::string seed = prefix_of("tf1/seed_original/my_model_final.ckpt");
  const std::string bn = prefix_of("tf1/batchnorm/my_model_final.ckpt");
  if (seed.empty() || bn.empty()) GTEST_SKIP() << "fixtures not found";
  const auto r = graft("inspect " + quote(seed));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "model: recovered from the TensorFlow graph " + seed + ".meta\n");
  EXPECT_CONTAINS(r.output, "model (TensorFlow graph " + seed + ".meta)\n");
  EXPECT_CONTAINS(r.output, "  hidden5  dense       50  relu");
  EXPECT_CONTAINS(r.output, "  outputs  dense       10  identity");
  const auto j = nlohmann::json::parse(test::graft_stdout("inspect --json " + quote(seed)).output);
  EXPECT_EQ(j["model"]["nodes"].size(), 6u);
  // The batch-norm graph: its nodes, and the batch norms listed under their dense layers.
  const auto b = graft("inspect " + quote(bn));
  ASSERT_EQ(b.status, 0) << b.output;
  EXPECT_CONTAINS(b.output, "model: recovered from the TensorFlow graph " + bn + ".meta\n");
  EXPECT_CONTAINS(b.output, "  batch_normalization    batch_norm     300  elu");
  EXPECT_CONTAINS(b.output, "  dnn/dropout            dropout        300  identity");
  EXPECT_CONTAINS(b.output, "batch_normalization: batch norm before the activation, momentum 0.9, epsilon 0.001");
  EXPECT_CONTAINS(b.output, "  hidden1  784 -> 300\n             + batch normalization batch_normalization (beta, gamma, "
                            "moving_mean, moving_variance)\n");
  EXPECT_EQ(b.output.find("other variables"), std::string::npos) << b.output;
}

// A graph built here, beside a bundle written by graft: the hand-written
// leaky ReLU's alpha reaches eval, and a corrupt graph is an error naming it.
TEST(CliGraph, HandWrittenLeakyReluAndCorruptGraph) {
  auto mnist = test::fixture("mnist");
  if (!mnist) GTEST_SKIP() << "fixture mnist not found";
  test::TempDir dir;
  const std::string prefix = (dir / "model.ckpt").string();
  const auto g = test::two_layer_graph(784, 8, 10, [](test::GraphBuilder& b, const std::string& z) {
    b.node("net/hidden1/mul", "Mul", {b.constant("net/hidden1/alpha", 0.1f), z});
    b.node("net/hidden1/Maximum", "Maximum", {"net/hidden1/mul", z});
    return "net/hidden1/Maximum";
  });
  g.write_meta(prefix + ".meta");
  {
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.f, 0.1f);
    std::vector<float> k1(784 * 8), b1(8, 0.f), k2(8 * 10), b2(10, 0.f);
    for (float& v : k1) v = normal(rng);
    for (float& v : k2) v = normal(rng);
    BundleWriter w(prefix);
    w.add_float("hidden1/kernel", {784, 8}, k1.data());
    w.add_float("hidden1/bias", {8}, b1.data());
    w.add_float("outputs/kernel", {8, 10}, k2.data());
    w.add_float("outputs/bias", {10}, b2.data());
    w.finish();
  }
  const std::string data = " --data " + quote(mnist->string()) + " --device cpu";
  const auto inspect = graft("inspect " + quote(prefix));
  ASSERT_EQ(inspect.status, 0) << inspect.output;
  EXPECT_CONTAINS(inspect.output, "  hidden1  dense        8  leaky_relu:0.1");
  const auto r = test::graft_stdout("eval " + quote(prefix) + data + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["model_source"], "TensorFlow graph " + prefix + ".meta");
  EXPECT_EQ(j["layers"][0]["activation"], "leaky_relu");
  EXPECT_EQ(j["layers"][1]["activation"], "identity");
  const auto wrong = graft("eval " + quote(prefix) + data + " --activation leaky_relu:0.2");
  EXPECT_EQ(wrong.status, 1);
  EXPECT_CONTAINS(wrong.output, "--activation leaky_relu:0.2 contradicts the graph " + prefix +
                                    ".meta (hidden1 uses leaky_relu:0.1)");

  std::ofstream(prefix + ".meta", std::ios::binary | std::ios::trunc) << "\x0a\x05garbage";
  const auto bad = graft("eval " + quote(prefix) + data);
  EXPECT_EQ(bad.status, 1) << bad.output;
  EXPECT_CONTAINS(bad.output, "graft eval: error: " + prefix + ".meta: not a TensorFlow MetaGraphDef");
  EXPECT_EQ(test::line_count(bad.output), 1) << bad.output;
}

// Per-layer activations from the graph; with --layers (the variables route)
// one activation must serve every hidden layer, so mixed ones are an error.
TEST(CliGraph, MixedActivationsComeFromTheGraph) {
  auto mnist = test::fixture("mnist");
  if (!mnist) GTEST_SKIP() << "fixture mnist not found";
  test::TempDir dir;
  const std::string prefix = (dir / "model.ckpt").string();
  test::GraphBuilder g;
  g.placeholder("X", {-1, 784});
  g.node("net/hidden1/Tanh", "Tanh", {g.dense("hidden1", "X", 784, 8)});
  g.node("net/hidden2/Sigmoid", "Sigmoid", {g.dense("hidden2", "net/hidden1/Tanh", 8, 6)});
  g.loss(g.dense("outputs", "net/hidden2/Sigmoid", 6, 10));
  g.write_meta(prefix + ".meta");
  {
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0.f, 0.1f);
    BundleWriter w(prefix);
    for (const auto& [name, in, out] : {std::tuple{"hidden1", 784, 8}, {"hidden2", 8, 6}, {"outputs", 6, 10}}) {
      std::vector<float> k(static_cast<std::size_t>(in * out)), b(static_cast<std::size_t>(out), 0.f);
      for (float& v : k) v = normal(rng);
      w.add_float(std::string(name) + "/kernel", {in, out}, k.data());
      w.add_float(std::string(name) + "/bias", {out}, b.data());
    }
    w.finish();
  }
  const std::string data = " --data " + quote(mnist->string()) + " --device cpu";
  const auto r = test::graft_stdout("eval " + quote(prefix) + data + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  ASSERT_EQ(j["layers"].size(), 3u);
  EXPECT_EQ(j["layers"][0]["activation"], "tanh");
  EXPECT_EQ(j["layers"][1]["activation"], "sigmoid");
  EXPECT_EQ(j["layers"][2]["activation"], "identity");
  const auto layers = graft("eval " + quote(prefix) + data + " --layers hidden1,hidden2,outputs");
  EXPECT_EQ(layers.status, 1) << layers.output;
  EXPECT_CONTAINS(layers.output, "the graph " + prefix + ".meta uses tanh and sigmoid in different layers");
}

}  // namespace
}  // namespace graft

namespace graft {
namespace {

// Where nothing records the activation (a Keras save_weights checkpoint: no
// model description, no .meta), eval, predict and export ask for it instead
// of assuming ReLU; given, they run.
TEST(CliGraph, UnrecordedActivationIsAskedForNotAssumed) {
  const std::string keras = test::prefix_of("tf2/keras_dense_adam/cp.ckpt");
  const auto mnist = test::fixture("mnist");
  if (keras.empty() || !mnist) GTEST_SKIP() << "fixtures not found";
  test::TempDir tmp;
  const std::string onnx = (tmp / "m.onnx").string();
  for (const std::string& cmd : {"eval " + quote(keras) + " --data " + quote(mnist->string()),
                                 "predict " + quote(keras) + " --data " + quote(mnist->string()),
                                 "export " + quote(keras) + " --onnx " + quote(onnx)}) {
    const auto r = graft(cmd);
    EXPECT_EQ(r.status, 1) << cmd << "\n" << r.output;
    EXPECT_CONTAINS(r.output, keras + " does not record its hidden layers' activation (no model description, no "
                                      "TensorFlow graph " + keras + ".meta): pass --activation");
  }
  EXPECT_FALSE(std::filesystem::exists(onnx));
  const auto given = graft("eval " + quote(keras) + " --data " + quote(mnist->string()) + " --activation relu");
  EXPECT_EQ(given.status, 0) << given.output;
  EXPECT_GT(accuracy_in(given.output), 0.9);
}

// predict reads the graph as eval does: the ELU network's predictions score
// its accuracy on digits 0-4 (a ReLU reading of it would not).
TEST(CliGraph, PredictUsesTheGraphsActivation) {
  const std::string adam = test::prefix_of("tf1/adam_digits_0_to_4/ch11-exercise_model_0_to_4.ckpt");
  const auto mnist = test::fixture("mnist");
  if (adam.empty() || !mnist) GTEST_SKIP() << "fixtures not found";
  test::TempDir tmp;
  const std::string csv = (tmp / "p.csv").string();
  const auto r = graft("predict " + quote(adam) + " --data " + quote(mnist->string()) + " --out " + quote(csv));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "(elu) from " + adam);
  EXPECT_CONTAINS(r.output, "as its TensorFlow graph " + adam + ".meta defines it");
  // What the graph leaves open is said, as eval says it.
  EXPECT_CONTAINS(r.output, "assumed: output i stands for label i (the graph does not record which class each output is)");
  const auto e = graft("eval " + quote(adam) + " --data " + quote(mnist->string()) + " --classes 0-4 --json");
  ASSERT_EQ(e.status, 0) << e.output;
  // The CSV's label column beside the true labels of t10k, over digits 0-4.
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);  // header
  std::vector<int> predicted;
  while (std::getline(in, line)) predicted.push_back(std::stoi(line.substr(0, line.find(','))));
  ASSERT_EQ(predicted.size(), 10000u);
  const std::vector<int32_t> truth = read_idx_labels((*mnist / "t10k-labels-idx1-ubyte.gz").string());
  int64_t hits = 0, seen = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    if (truth[i] > 4) continue;
    ++seen;
    hits += predicted[i] == truth[i];
  }
  EXPECT_EQ(seen, 5139);
  EXPECT_NEAR(static_cast<double>(hits) / static_cast<double>(seen), 0.9840, 0.0005);
}

}  // namespace
}  // namespace graft

namespace graft {
namespace {

// --resume of a TensorFlow checkpoint with a .meta graph and no record: the
// graph is the architecture (ELU, its layer names), checked against the
// flags like a record; the optimizer is the request's and must use the
// checkpoint's slots; TF's scalar names (train/beta1_power) are kept, so a
// Saver over the original graph restores the result.
TEST(CliGraph, ResumeTakesTheGraphsNetworkAndKeepsTfsScalarNames) {
  const std::string adam = test::prefix_of("tf1/adam_digits_0_to_4/ch11-exercise_model_0_to_4.ckpt");
  if (adam.empty()) GTEST_SKIP() << "fixtures not found";
  test::TempDir tmp;
  const std::string data = test::banded_data_dir(tmp.path(), 200, 50).string();
  const std::string out = (tmp / "resumed/m.ckpt").string();
  const std::string base = "train --resume " + quote(adam) + " --data " + quote(data) + " --epochs 1 --validation 50 ";

  const auto sgd = graft(base + "--save " + quote(out));
  EXPECT_EQ(sgd.status, 1) << sgd.output;
  EXPECT_CONTAINS(sgd.output, "holds 24 optimizer slots that sgd does not use");
  const auto hidden = graft(base + "--optimizer adam --hidden 100,100 --save " + quote(out));
  EXPECT_EQ(hidden.status, 1) << hidden.output;
  EXPECT_CONTAINS(hidden.output, "--hidden 100,100 contradicts the graph " + adam + ".meta");
  EXPECT_FALSE(std::filesystem::exists(out + ".index"));

  const auto r = graft(base + "--optimizer adam --lr 0.001 --save " + quote(out));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "resuming the network the TensorFlow graph " + adam + ".meta defines: "
                            "784-100-100-100-100-100-5 (elu)");
  EXPECT_CONTAINS(r.output, "the optimizer and its hyper-parameters are the request's (adam, lr 0.001)");
  EXPECT_CONTAINS(r.output, "24 optimizer slots (Adam, Adam_1), train/beta1_power, train/beta2_power");
  const auto j = test::graft_stdout("inspect --json " + quote(out));
  ASSERT_EQ(j.status, 0) << j.output;
  const auto parsed = nlohmann::json::parse(j.output);
  std::vector<std::string> names;
  for (const auto& v : parsed["variables"]) names.push_back(v["name"].get<std::string>());
  for (const char* kept : {"train/beta1_power", "train/beta2_power", "hidden5/kernel/Adam_1"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), kept), names.end()) << kept;
  }
  EXPECT_EQ(std::find(names.begin(), names.end(), "beta1_power"), names.end());
  EXPECT_EQ(parsed["model"]["nodes"][0]["activation"], "elu");

  // A second resume, from graft's own save, keeps the names again.
  const std::string again = (tmp / "again/m.ckpt").string();
  const auto r2 = graft("train --resume " + quote(out) + " --data " + quote(data) + " --epochs 1 --validation 50 "
                        "--save " + quote(again));
  ASSERT_EQ(r2.status, 0) << r2.output;
  EXPECT_CONTAINS(graft("inspect " + quote(again)).output, "train/beta1_power ");
}

}  // namespace
}  // namespace graft

namespace graft {
namespace {

// --init-from of layers whose source (its graph here) runs them with another
// activation than the new model gives them: refused unless asked for, then said.
TEST(CliGraph, RestoredLayersKeepTheirSourcesActivationOrSaySo) {
  const std::string adam = test::prefix_of("tf1/adam_digits_0_to_4/ch11-exercise_model_0_to_4.ckpt");
  if (adam.empty()) GTEST_SKIP() << "fixtures not found";
  test::TempDir tmp;
  const std::string data = test::banded_data_dir(tmp.path(), 200, 50).string();
  const std::string base = "train --data " + quote(data) + " --validation 50 --epochs 1 --hidden 100,100 --init-from " +
                           quote(adam) + " --restore 'hidden[1-2]' ";
  const auto silent = graft(base);
  EXPECT_EQ(silent.status, 1) << silent.output;
  EXPECT_CONTAINS(silent.output, "graft train: error: hidden1 is restored from hidden1, which the graph " + adam +
                                     ".meta runs with elu; the model gives it relu (the default): pass --activation elu");
  const auto elu = graft(base + "--activation elu");
  EXPECT_EQ(elu.status, 0) << elu.output;
  EXPECT_EQ(elu.output.find("note: hidden1"), std::string::npos) << elu.output;
  const auto relu = graft(base + "--activation relu");
  EXPECT_EQ(relu.status, 0) << relu.output;
  EXPECT_CONTAINS(relu.output, "note: hidden2 is restored from hidden2, which the graph " + adam +
                                   ".meta runs with elu; it runs with relu, as asked");
}

}  // namespace
}  // namespace graft
