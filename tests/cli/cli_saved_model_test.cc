// A Keras TF2 SavedModel directory, built byte by byte in the test
// (tests/common/saved_model_builder.h), through every command that takes a
// checkpoint: inspect prints the architecture keras_metadata.pb records;
// predict and eval give what an independent forward pass of the same
// weights gives; export writes it; train restores from it, resumes it, and
// refuses to save into it; extract copies out of it but not into it.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "host/data/npy.h"
#include "host/data/npz.h"
#include "tests/cli/cli_util.h"
#include "tests/common/expect_contains.h"
#include "tests/common/fixtures.h"
#include "tests/common/saved_model_builder.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

using test::graft;
using test::quote;

constexpr int64_t kRows = 40, kCols = 784;

// Dense(300, relu) -> Dense(100, elu) -> Dense(10).
std::vector<test::SavedLayer> mlp() {
  return {test::keras_dense("dense", kCols, 300, "relu", 1), test::keras_dense("dense_1", 300, 100, "elu", 3),
          test::keras_dense("dense_2", 100, 10, "linear", 5)};
}

// The logits of one row, in double, from the layers' weights (nothing of graft's).
std::vector<double> logits(const std::vector<test::SavedLayer>& layers, const float* row) {
  std::vector<double> x(row, row + kCols);
  for (const test::SavedLayer& l : layers) {
    const auto& w = l.weights[0];
    const auto& b = l.weights[1];
    const auto in = static_cast<std::size_t>(w.shape[0]), out = static_cast<std::size_t>(w.shape[1]);
    std::vector<double> y(out);
    const std::string act = l.keras["config"]["activation"];
    for (std::size_t j = 0; j < out; ++j) {
      double s = b.values[j];
      for (std::size_t i = 0; i < in; ++i) s += x[i] * w.values[i * out + j];
      y[j] = act == "relu" ? std::max(s, 0.0) : act == "elu" ? (s > 0 ? s : std::expm1(s)) : s;
    }
    x = y;
  }
  return x;
}

class CliSavedModel : public ::testing::Test {
 protected:
  void SetUp() override {
    sm = (dir / "sm").string();
    test::write_saved_model(sm, mlp());
    features = test::wave(static_cast<std::size_t>(kRows * kCols), 21, 0.5f);
    for (float& f : features) f += 0.5f;  // [0, 1): pixels already scaled
    std::ofstream(dir / "x.npy", std::ios::binary) << npy_image_f32(features, kRows, kCols);
    // Labels: the reference's argmax for most rows, another class for every fourth.
    for (int64_t r = 0; r < kRows; ++r) {
      const std::vector<double> z = logits(mlp(), features.data() + r * kCols);
      reference.push_back(z);
      const int best = static_cast<int>(std::max_element(z.begin(), z.end()) - z.begin());
      labels.push_back(r % 4 == 3 ? (best + 1) % 10 : best);
    }
    std::ofstream(dir / "y.npy", std::ios::binary) << npy_image_i32(labels);
  }

  test::TempDir dir;
  std::string sm;
  std::vector<float> features;
  std::vector<int32_t> labels;
  std::vector<std::vector<double>> reference;
};

TEST_F(CliSavedModel, InspectPrintsTheArchitectureFromKerasMetadata) {
  const auto r = graft("inspect " + quote(sm));
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string vars = sm + "/variables/variables";
  EXPECT_CONTAINS(r.output, "graft inspect: using the SavedModel's variables " + vars + " (from " + sm + ")");
  EXPECT_CONTAINS(r.output, "variables/0/.ATTRIBUTES/VARIABLE_VALUE");
  EXPECT_CONTAINS(r.output, "model: read from the Keras metadata " + sm + "/keras_metadata.pb\n");
  EXPECT_CONTAINS(r.output, "model (Keras metadata " + sm + "/keras_metadata.pb)\n");
  EXPECT_CONTAINS(r.output, "  dense    dense      300  relu                235,500  trainable\n");
  EXPECT_CONTAINS(r.output, "  dense_1  dense      100  elu                  30,100  trainable\n");
  EXPECT_CONTAINS(r.output, "  dense_2  dense       10  identity              1,010  trainable\n");
  // The variables' own summary knows the layers behind the variables/K keys.
  EXPECT_CONTAINS(r.output, "dense layers: 3, 784-300-100-10\n  layer_with_weights-0  784 -> 300  (dense)\n");
}

TEST_F(CliSavedModel, PredictAndEvalGiveTheIndependentForwardPass) {
  const std::string p = (dir / "p.npy").string();
  auto r = graft("predict " + quote(sm) + " --data " + quote((dir / "x.npy").string()) + " --out " + quote(p));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "(as its Keras metadata " + sm + "/keras_metadata.pb defines it)");
  const NpyArray probabilities = read_npy(p);
  ASSERT_EQ(probabilities.shape, (std::vector<int64_t>{kRows, 10}));
  const auto* got = reinterpret_cast<const float*>(probabilities.data.data());
  double worst = 0, loss = 0;
  int correct = 0;
  for (int64_t row = 0; row < kRows; ++row) {
    const std::vector<double>& z = reference[static_cast<std::size_t>(row)];
    const double m = *std::max_element(z.begin(), z.end());
    double sum = 0;
    for (double v : z) sum += std::exp(v - m);
    for (std::size_t j = 0; j < 10; ++j) {
      worst = std::max(worst, std::abs(std::exp(z[j] - m) / sum - got[row * 10 + static_cast<int64_t>(j)]));
    }
    const int label = labels[static_cast<std::size_t>(row)];
    loss += std::log(sum) + m - z[static_cast<std::size_t>(label)];
    correct += std::max_element(z.begin(), z.end()) - z.begin() == label;
  }
  std::printf("graft predict of the SavedModel vs an independent forward pass: max abs probability difference %.3g\n",
              worst);
  EXPECT_LT(worst, 1e-6);

  r = graft("eval " + quote(sm) + " --data " + quote((dir / "x.npy").string()) + " --labels " +
            quote((dir / "y.npy").string()) + " --device cpu");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NEAR(test::accuracy_in(r.output), static_cast<double>(correct) / kRows, 1e-4) << r.output;
  const auto at = r.output.rfind("\nloss: ") + 1;  // the result's, after the summary's "loss: sparse_..."
  ASSERT_NE(at, 0u) << r.output;
  EXPECT_NEAR(std::stod(r.output.substr(at + 6)), loss / kRows, 1e-3) << r.output;
  EXPECT_CONTAINS(r.output, "assumed: output i stands for label i (keras_metadata.pb does not record");
}

TEST_F(CliSavedModel, ExportWritesTheNetwork) {
  const std::string onnx = (dir / "m.onnx").string();
  const auto r = graft("export " + quote(sm) + " --onnx " + quote(onnx));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "input \"input\" [N, 784], outputs \"probabilities\" and \"logits\" [N, 10]");
  EXPECT_TRUE(fs::exists(onnx));
}

TEST_F(CliSavedModel, TrainRestoresAndResumesButNeverSavesIntoIt) {
  const std::string data = (dir / "train.npz").string();
  write_npz(data, {{"x_train", npy_image_f32(features, kRows, kCols)}, {"y_train", npy_image_i32(labels)},
                   {"x_test", npy_image_f32(features, kRows, kCols)}, {"y_test", npy_image_i32(labels)}});
  // --init-from: the Keras layer names (the variables' full names) select what is restored.
  auto r = graft("train --data " + quote(data) + " --hidden 300,20 --layer-names dense,hidden2,outputs --init-from " +
                 quote(sm) + " --restore dense --device cpu --dry-run");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "using the SavedModel's variables " + sm + "/variables/variables");
  EXPECT_CONTAINS(r.output, "restored from variables/0/.ATTRIBUTES/VARIABLE_VALUE");
  // --resume: the network keras_metadata.pb defines, trained further and saved elsewhere.
  const std::string out = (dir / "run" / "model.ckpt").string();
  r = graft("train --data " + quote(data) + " --resume " + quote(sm) + " --epochs 1 --device cpu --save " + quote(out));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "resuming the network the Keras metadata " + sm + "/keras_metadata.pb defines: ");
  const std::string saved = graft("inspect " + quote(out)).output;
  EXPECT_CONTAINS(saved, "model (Keras metadata " + sm + "/keras_metadata.pb (resumed by graft))\n");
  EXPECT_CONTAINS(saved, "  dense_1  dense      100  elu ");
  EXPECT_CONTAINS(saved, "  input: 784 features\n");  // the .npz's floats, as they are (scale 1)
  EXPECT_CONTAINS(saved, "assumed: input: raw values x 1, the training data's scale (keras_metadata.pb records none)");
  EXPECT_CONTAINS(r.output, sm + "/variables/variables: 6 variables resumed from the SavedModel; optimizer state and "
                            "step start fresh");
  // Saving into the SavedModel would replace the variables its saved_model.pb was saved with.
  const std::string into = sm + "/variables/variables";
  const auto before = fs::last_write_time(into + ".index");
  r = graft("train --data " + quote(data) + " --resume " + quote(sm) + " --epochs 1 --device cpu --save " + quote(into));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_CONTAINS(r.output, "graft train: error: --save " + into + " lies inside the SavedModel " + sm +
                                " (it holds saved_model.pb)");
  EXPECT_EQ(fs::last_write_time(into + ".index"), before);
  r = graft("extract " + quote(sm) + " " + quote(sm + "/model.ckpt"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_CONTAINS(r.output, "the destination " + sm + "/model.ckpt lies inside the SavedModel " + sm);
  EXPECT_FALSE(fs::exists(sm + "/model.ckpt.index"));
  r = graft("extract " + quote(sm) + " " + quote((dir / "copy" / "m.ckpt").string()));
  ASSERT_EQ(r.status, 0) << r.output;
}

TEST_F(CliSavedModel, RefusalsAreOneLineNamingTheFile) {
  const std::string meta = sm + "/keras_metadata.pb";
  // A Conv2D layer in the metadata.
  std::vector<test::SavedLayer> conv = mlp();
  conv.insert(conv.begin(), test::keras_layer("Conv2D", {{"name", "conv2d"}, {"filters", 8}}));
  std::ofstream(meta, std::ios::binary | std::ios::trunc) << test::keras_metadata_bytes(conv, {});
  for (const std::string& cmd : {"eval " + quote(sm) + " --data " + quote((dir / "x.npy").string()) + " --labels " +
                                     quote((dir / "y.npy").string()),
                                 "predict " + quote(sm) + " --data " + quote((dir / "x.npy").string())}) {
    const auto r = graft(cmd);
    EXPECT_EQ(r.status, 1) << r.output;
    // The error is one line (predict says which prefix it used before it).
    const std::string last = r.output.substr(r.output.rfind('\n', r.output.size() - 2) + 1);
    EXPECT_CONTAINS(last, ": error: " + meta + ": layer conv2d (Conv2D) is a Conv2D layer, which graft cannot run");
    EXPECT_EQ(r.output.find(": error: "), r.output.rfind(": error: ")) << r.output;
  }
  // Corrupt: one line naming the file; inspect still lists the variables.
  std::ofstream(meta, std::ios::binary | std::ios::trunc) << std::string("\x0a\xff\xff\xff\x0f junk", 10);
  auto r = graft("predict " + quote(sm) + " --data " + quote((dir / "x.npy").string()));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_CONTAINS(r.output, ")\ngraft predict: error: " + meta + ": not a Keras SavedMetadata (truncated or corrupt)\n");
  EXPECT_EQ(test::line_count(r.output), 2) << r.output;
  r = graft("inspect " + quote(sm));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "its Keras metadata cannot be used: " + meta + ": not a Keras SavedMetadata");
  // Without keras_metadata.pb the activation is asked for.
  fs::remove(meta);
  r = graft("eval " + quote(sm) + " --data " + quote((dir / "x.npy").string()) + " --labels " +
            quote((dir / "y.npy").string()));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_CONTAINS(r.output, "(no model description, no keras_metadata.pb in the SavedModel " + sm +
                                "): pass --activation");
  r = graft("eval " + quote(sm) + " --data " + quote((dir / "x.npy").string()) + " --labels " +
            quote((dir / "y.npy").string()) + " --activation relu --device cpu");
  EXPECT_EQ(r.status, 0) << r.output;
  // Without variables/.
  fs::remove_all(sm + "/variables");
  r = graft("inspect " + quote(sm));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(r.output, "graft inspect: error: " + sm + " is a SavedModel (saved_model.pb) without its variables: " + sm +
                          "/variables does not exist (graft reads a SavedModel's network from its variables)\n");
}

}  // namespace
}  // namespace graft
