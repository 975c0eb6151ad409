// graft inspect, eval, predict, export and train --resume of TensorFlow 1
// checkpoints whose graphs hold the forms host/restore/graph_batch_norm.h
// and graph_input_transform.h recognise: fused and tf.contrib batch norm,
// scaling and standardization inside the graph. Graphs and checkpoints are
// built here; accuracies and probabilities are computed independently
// (tests/common/tf_reference.h) from the raw data.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "host/data/idx.h"
#include "tests/cli/cli_util.h"
#include "tests/common/expect_contains.h"
#include "tests/common/fixtures.h"
#include "tests/common/graph_builder.h"
#include "tests/common/graph_forms.h"
#include "tests/common/synthetic_data.h"
#include "tests/common/tf_reference.h"

namespace graft {
namespace {

using test::graft;
using test::GraphBuilder;
using test::quote;

// The index of each row's largest value.
std::vector<int> argmax_rows(const std::vector<double>& logits, int64_t classes) {
  std::vector<int> out;
  for (std::size_t r = 0; r * classes < logits.size(); ++r) {
    const auto* row = logits.data() + r * classes;
    out.push_back(static_cast<int>(std::max_element(row, row + classes) - row));
  }
  return out;
}

int64_t hits(const std::vector<int>& predicted, const std::vector<int32_t>& labels) {
  int64_t n = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) n += predicted[i] == labels[i];
  return n;
}

// confusion[true class][predicted], as eval --json's per_class.confusion.
nlohmann::json confusion(const std::vector<int>& predicted, const std::vector<int32_t>& labels, int classes) {
  std::vector<std::vector<int64_t>> c(static_cast<std::size_t>(classes), std::vector<int64_t>(classes, 0));
  for (std::size_t i = 0; i < labels.size(); ++i) ++c[static_cast<std::size_t>(labels[i])][predicted[i]];
  return c;
}

// X [-1, 784] -> `input` -> hidden1 (8) -> fused tf.contrib batch norm
// (is_training a placeholder, no gamma) -> ReLU -> hidden2 (6) -> tf.contrib's
// unfused batch norm -> ReLU -> outputs (4).
struct BatchNormNet {
  test::TempDir dir;
  std::string prefix = (dir / "model.ckpt").string();
  test::TfValues v{21};
  bool uint8_input;

  // The moving statistics are those of `pixels` as the graph scales them.
  BatchNormNet(bool uint8, const std::vector<uint8_t>& pixels) : uint8_input(uint8) {
    GraphBuilder g;
    g.placeholder("X", {-1, 784});
    std::string x = "X";
    if (uint8_input) {
      (*g.at("X").mutable_attr())["dtype"].set_type(4);
      tf::NodeDef& cast = g.node("Cast", "Cast", {"X"});
      (*cast.mutable_attr())["SrcT"].set_type(4);
      (*cast.mutable_attr())["DstT"].set_type(1);
      x = "Cast";
    } else {
      g.node("truediv", "RealDiv", {"X", g.constant("truediv/y", 255.0f)});
      x = "truediv";
    }
    test::FusedBatchNormForm fused;
    fused.scale = false;
    fused.momentum = test::FusedMomentum::kDecay;
    fused.momentum_value = 0.999;
    fused.contrib_reshape_back = true;
    g.node("net/hidden1/Relu", "Relu",
           {test::fused_batch_norm(g, g.dense("hidden1", x, 784, 8), "hidden1/BatchNorm", 8, fused)});
    g.node("net/hidden2/Relu", "Relu",
           {test::contrib_batch_norm(g, g.dense("hidden2", "net/hidden1/Relu", 8, 6), "hidden2/BatchNorm", 6,
                                     test::ContribBatchNormForm{})});
    g.loss(g.dense("outputs", "net/hidden2/Relu", 6, 4));
    g.write_meta(prefix + ".meta");
    v.random("hidden1/kernel", {784, 8}, -0.1f, 0.1f);
    v.random("hidden1/bias", {8}, -0.5f, 0.5f);
    v.random("hidden2/kernel", {8, 6}, -1.f, 1.f);
    v.random("hidden2/bias", {6}, -0.5f, 0.5f);
    v.random("outputs/kernel", {6, 4}, -1.f, 1.f);
    v.random("outputs/bias", {4}, -0.5f, 0.5f);
    v.random("hidden1/BatchNorm/beta", {8}, -0.5f, 0.5f);
    v.random("hidden2/BatchNorm/beta", {6}, -0.5f, 0.5f);
    const double scale = uint8_input ? 1.0 : 1.0 / 255.0;
    const std::vector<double> x1 = scaled(pixels, scale);
    const int64_t rows = static_cast<int64_t>(pixels.size() / 784);
    std::vector<double> z = test::dense_reference(x1, rows, 784, 8, v["hidden1/kernel"], v["hidden1/bias"]);
    v.statistics_of("hidden1/BatchNorm", z, 8);
    v.statistics_of("hidden2/BatchNorm", hidden2(z, rows), 6);
    v.write(prefix);
  }

  static std::vector<double> scaled(const std::vector<uint8_t>& pixels, double scale) {
    std::vector<double> x(pixels.size());
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(pixels[i] * scale);
    return x;
  }

  // hidden1's batch norm and ReLU on z, then hidden2's dense layer.
  std::vector<double> hidden2(std::vector<double> z, int64_t rows) const {
    test::batch_norm_reference(z, 8, nullptr, &v["hidden1/BatchNorm/beta"], v["hidden1/BatchNorm/moving_mean"],
                               v["hidden1/BatchNorm/moving_variance"], 0.001);
    test::relu_reference(z);
    return test::dense_reference(z, rows, 8, 6, v["hidden2/kernel"], v["hidden2/bias"]);
  }

  // TensorFlow's logits for raw pixel bytes, the network reading them x `scale`.
  std::vector<double> logits(const std::vector<uint8_t>& pixels, double scale) const {
    const int64_t rows = static_cast<int64_t>(pixels.size() / 784);
    std::vector<double> z =
        test::dense_reference(scaled(pixels, scale), rows, 784, 8, v["hidden1/kernel"], v["hidden1/bias"]);
    z = hidden2(z, rows);
    test::batch_norm_reference(z, 6, nullptr, &v["hidden2/BatchNorm/beta"], v["hidden2/BatchNorm/moving_mean"],
                               v["hidden2/BatchNorm/moving_variance"], 0.001);
    test::relu_reference(z);
    return test::dense_reference(z, rows, 6, 4, v["outputs/kernel"], v["outputs/bias"]);
  }
};

// The t10k images and labels of a banded data folder.
struct Idx {
  std::vector<uint8_t> pixels;
  std::vector<int32_t> labels;
  explicit Idx(const std::string& dir)
      : pixels(read_idx_u8(dir + "/t10k-images-idx3-ubyte", 3).data),
        labels(read_idx_labels(dir + "/t10k-labels-idx1-ubyte")) {}
};

TEST(CliGraphForms, InspectAndEvalOfFusedAndContribBatchNorm) {
  test::TempDir tmp;
  const std::string data = test::banded_data_dir(tmp.path(), 10, 200).string();
  const Idx t10k(data);
  BatchNormNet net(false, t10k.pixels);
  const auto inspect = graft("inspect " + quote(net.prefix));
  ASSERT_EQ(inspect.status, 0) << inspect.output;
  EXPECT_CONTAINS(inspect.output, "model: recovered from the TensorFlow graph " + net.prefix + ".meta\n");
  EXPECT_CONTAINS(inspect.output, "input: 784 features, raw value x 0.00392157 (read from the TensorFlow graph " +
                                      net.prefix + ".meta)");
  EXPECT_CONTAINS(inspect.output, "  hidden1/BatchNorm  batch_norm       8  relu");
  EXPECT_CONTAINS(inspect.output, "  hidden2/BatchNorm  batch_norm       6  relu");
  EXPECT_CONTAINS(inspect.output,
                  "hidden1/BatchNorm: batch norm before the activation, momentum 0.999, epsilon 0.001, no gamma");
  EXPECT_CONTAINS(inspect.output,
                  "read: hidden1/BatchNorm (hidden1/BatchNorm/cond/Merge): fused (FusedBatchNormV3 "
                  "NHWC) batch norm before the activation (relu), epsilon 0.001 read from the graph, "
                  "scale off (no gamma in the graph), momentum 0.999 (1 - its AssignMovingAvg decay)");
  EXPECT_CONTAINS(inspect.output, "read: hidden2/BatchNorm (hidden2/BatchNorm/batchnorm/add_1): batch norm before");
  EXPECT_CONTAINS(inspect.output, "read: input X (float32): the graph computes X / 255 before net/hidden1/MatMul");

  const auto r = test::graft_stdout("eval " + quote(net.prefix) + " --data " + quote(data) + " --device cpu --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  const std::vector<int32_t>& labels = t10k.labels;
  const std::vector<int> predicted = argmax_rows(net.logits(t10k.pixels, 1.0 / 255.0), 4);
  EXPECT_EQ(j["correct"].get<int64_t>(), hits(predicted, labels));
  EXPECT_EQ(j["per_class"]["confusion"], confusion(predicted, labels, 4));
  EXPECT_EQ(j["samples"].get<int64_t>(), 200);
  EXPECT_EQ(j["layers"][1]["kind"], "batch_norm");
  EXPECT_EQ(j["layers"][1]["variables"].count("gamma"), 0u);
}

// A graph that only casts its uint8 input makes the network read bytes:
// eval feeds the IDX folder's bytes unscaled, as the graph did.
TEST(CliGraphForms, EvalOfAnIdxFolderFollowsTheGraphsScale) {
  test::TempDir tmp;
  const std::string data = test::banded_data_dir(tmp.path(), 10, 200).string();
  const Idx t10k(data);
  BatchNormNet net(true, t10k.pixels);
  const auto r = test::graft_stdout("eval " + quote(net.prefix) + " --data " + quote(data) + " --device cpu --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::vector<int32_t>& labels = t10k.labels;
  const nlohmann::json bytes = confusion(argmax_rows(net.logits(t10k.pixels, 1.0), 4), labels, 4);
  const nlohmann::json scaled = confusion(argmax_rows(net.logits(t10k.pixels, 1.0 / 255.0), 4), labels, 4);
  ASSERT_NE(bytes, scaled);  // the data tells the two apart
  EXPECT_EQ(nlohmann::json::parse(r.output)["per_class"]["confusion"], bytes);
}

// (X / 255 - mean) / stddev inside the graph, on a CSV of raw 0-255 values:
// eval, predict and export apply it; --input-scale contradicting it is an error.
struct StandardizedNet {
  test::TempDir dir;
  std::string prefix = (dir / "model.ckpt").string();
  std::string csv = (dir / "data.csv").string();
  test::TfValues v{8};
  std::vector<float> mean{0.2f, 0.4f, 0.5f, 0.1f, 0.6f, 0.3f}, stddev{0.3f, 0.1f, 0.25f, 0.5f, 0.2f, 0.4f};
  std::vector<uint8_t> raw;
  std::vector<int32_t> labels;
  static constexpr int64_t kRows = 90;

  StandardizedNet() {
    GraphBuilder g;
    g.placeholder("X", {-1, 6});
    g.node("scaled", "RealDiv", {"X", g.constant("c255", 255.0f)});
    g.node("centered", "Sub", {"scaled", g.constant("mean", mean, {6})});
    g.node("standardized", "RealDiv", {"centered", g.constant_content("stddev", stddev, {6})});
    g.node("net/hidden1/Elu", "Elu", {g.dense("hidden1", "standardized", 6, 5)});
    g.loss(g.dense("outputs", "net/hidden1/Elu", 5, 3));
    g.write_meta(prefix + ".meta");
    v.random("hidden1/kernel", {6, 5}, -1.f, 1.f);
    v.random("hidden1/bias", {5}, -0.5f, 0.5f);
    v.random("outputs/kernel", {5, 3}, -1.f, 1.f);
    v.random("outputs/bias", {3}, -0.5f, 0.5f);
    v.write(prefix);
    std::mt19937 rng(4);
    std::ofstream out(csv);
    out << "a,b,c,d,e,f,label\n";
    for (int64_t r = 0; r < kRows; ++r) {
      labels.push_back(static_cast<int32_t>(r % 3));
      for (int k = 0; k < 6; ++k) {
        raw.push_back(static_cast<uint8_t>(rng() % 256));
        out << static_cast<int>(raw.back()) << ",";
      }
      out << labels.back() << "\n";
    }
  }

  std::vector<double> logits() const {
    std::vector<double> x;
    for (std::size_t i = 0; i < raw.size(); ++i) x.push_back((raw[i] / 255.0 - mean[i % 6]) / stddev[i % 6]);
    std::vector<double> z = test::dense_reference(x, kRows, 6, 5, v["hidden1/kernel"], v["hidden1/bias"]);
    for (double& h : z) h = h > 0 ? h : std::expm1(h);
    return test::dense_reference(z, kRows, 5, 3, v["outputs/kernel"], v["outputs/bias"]);
  }
};

TEST(CliGraphForms, StandardizationInsideTheGraphReachesEvalPredictAndExport) {
  StandardizedNet net;
  const std::vector<double> logits = net.logits();
  const auto r = test::graft_stdout("eval " + quote(net.prefix) + " --data " + quote(net.csv) + " --device cpu --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output)["per_class"]["confusion"],
            confusion(argmax_rows(logits, 3), net.labels, 3));
  const auto said = graft("eval " + quote(net.prefix) + " --data " + quote(net.csv) + " --device cpu");
  EXPECT_CONTAINS(said.output,
                  "read: input X (float32): the graph computes ((X / 255) - mean) / stddev before "
                  "net/hidden1/MatMul");
  EXPECT_EQ(said.output.find("assumed: inputs are the raw values"), std::string::npos) << said.output;

  const std::string meta = "the TensorFlow graph " + net.prefix + ".meta";
  for (const std::string& cmd :
       {"eval " + quote(net.prefix) + " --data " + quote(net.csv) + " --input-scale 1",
        "predict " + quote(net.prefix) + " --data " + quote(net.csv) + " --input-scale 1",
        "export " + quote(net.prefix) + " --onnx " + quote(net.dir / "x.onnx") + " --input-scale 1"}) {
    const auto bad = graft(cmd);
    EXPECT_EQ(bad.status, 1) << cmd << "\n" << bad.output;
    EXPECT_CONTAINS(bad.output, "--input-scale 1 contradicts " + meta +
                                    ", which transforms its input itself (raw "
                                    "value x 0.00392157, then standardized per feature): leave --input-scale out");
  }

  const std::string out = (net.dir / "p.csv").string();
  const auto p = graft("predict " + quote(net.prefix) + " --data " + quote(net.csv) + " --out " + quote(out));
  ASSERT_EQ(p.status, 0) << p.output;
  const std::vector<double> want = test::softmax_reference(logits, 3);
  std::ifstream in(out);
  std::string line;
  std::getline(in, line);  // label,p_0,p_1,p_2
  for (int64_t row = 0; std::getline(in, line); ++row) {
    std::stringstream ss(line);
    std::string cell;
    std::getline(ss, cell, ',');
    for (int k = 0; k < 3; ++k) {
      ASSERT_TRUE(std::getline(ss, cell, ','));
      EXPECT_NEAR(std::stod(cell), want[static_cast<std::size_t>(row * 3 + k)], 1e-5) << row;
    }
  }

  const std::string onnx = (net.dir / "m.onnx").string();
  const auto e = graft("export " + quote(net.prefix) + " --onnx " + quote(onnx));
  ASSERT_EQ(e.status, 0) << e.output;
  EXPECT_CONTAINS(e.output,
                  "input: raw value x 0.00392157, then standardized per feature, as " + meta + " computes it");
  EXPECT_EQ(e.output.find("the inputs are used as given"), std::string::npos) << e.output;
  std::ifstream model(onnx, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(model)), std::istreambuf_iterator<char>());
  for (const char* name : {"input_scale", "input_mean", "input_stddev"}) {
    EXPECT_NE(bytes.find(name), std::string::npos) << name;
  }
}

// Training from such a graph: --standardize on resume contradicts the
// graph's own standardization; restoring its first layer into a model that
// feeds it other inputs is said.
TEST(CliGraphForms, TrainingSaysWhenTheGraphsInputTransformIsNotTheModels) {
  StandardizedNet net;
  const std::string data = " --data " + quote(net.csv) + " --test-split 0.2 --epochs 1 --device cpu ";
  const auto resume = graft("train --resume " + quote(net.prefix) + data + "--standardize");
  EXPECT_EQ(resume.status, 1) << resume.output;
  EXPECT_CONTAINS(resume.output, "--standardize contradicts the TensorFlow graph " + net.prefix +
                                     ".meta, which transforms its input itself (raw value x 0.00392157, then "
                                     "standardized per feature): leave it out to resume the graph's model");
  const auto init = graft("train --init-from " + quote(net.prefix) + data +
                          "--hidden 5 --activation elu --restore hidden1 --dry-run");
  ASSERT_EQ(init.status, 0) << init.output;
  EXPECT_CONTAINS(init.output, "note: hidden1 is restored from hidden1/kernel, whose TensorFlow graph " + net.prefix +
                                   ".meta feeds it raw value x 0.00392157, then standardized per feature; this model "
                                   "feeds it raw value x 1: the restored features see other inputs");
  const auto same = graft("train --init-from " + quote(net.prefix) + data +
                          "--hidden 5 --activation elu --restore hidden1 --dry-run --input-scale 0.00392156862745098");
  ASSERT_EQ(same.status, 0) << same.output;
  EXPECT_CONTAINS(same.output, "this model feeds it raw value x 0.00392157: the restored features");
}

// --resume of such a graph: the graph is the model, input transform included
// (recorded in the save), and --batch-norm contradicting it names both.
TEST(CliGraphForms, ResumeKeepsTheGraphsInputAndRefusesContradictingBatchNorm) {
  test::TempDir tmp;
  const std::string data = test::banded_data_dir(tmp.path(), 120, 40).string();
  BatchNormNet net(true, Idx(data).pixels);
  const std::string base =
      "train --resume " + quote(net.prefix) + " --data " + quote(data) + " --epochs 1 --validation 20 --device cpu ";
  const auto bad = graft(base + "--batch-norm after");
  EXPECT_EQ(bad.status, 1) << bad.output;
  EXPECT_CONTAINS(bad.output, "--batch-norm after (momentum 0.99, epsilon 0.001) contradicts the TensorFlow graph " + net.prefix +
                                  ".meta, whose network is 784-8-6-4 (relu) + batch norm; hidden1/BatchNorm: batch "
                                  "norm before the activation, momentum 0.999, epsilon 0.001, no-scale");
  const std::string out = (tmp / "resumed/m.ckpt").string();
  const auto r = graft(base + "--save " + quote(out));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(test::graft_stdout("inspect --json " + quote(out)).output);
  EXPECT_DOUBLE_EQ(j["model"]["input"]["scale"].get<double>(), 1.0);
  EXPECT_EQ(j["model"]["input"]["read_from"], "TensorFlow graph " + net.prefix + ".meta");
}

}  // namespace
}  // namespace graft
