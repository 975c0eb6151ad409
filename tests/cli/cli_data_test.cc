// Data files end to end: train on a CSV with class names and carved splits,
// evaluate the same test split (per-class results, confusion matrix), and
// predict every row; predict's labels and probabilities agree with eval's
// per-row results (its confusion matrix and its loss).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "host/data/npy.h"
#include "tests/cli/cli_util.h"
#include "tests/common/expect_contains.h"
#include "tests/common/fixtures.h"
#include "tests/common/synthetic_data.h"

namespace graft {
namespace {

using test::graft;
using test::graft_stdout;
using test::quote;

const std::vector<std::string> kNames = {"cat", "dog", "owl"};

// Three noisy blobs in 5 dimensions; the class name is the third column.
struct Blobs {
  std::vector<float> x;  // [rows, 5]
  std::vector<int> y;    // index into kNames
  int rows = 0;
};

Blobs write_blobs_csv(const std::filesystem::path& path, int rows) {
  Blobs b;
  b.rows = rows;
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.0f, 0.7f);
  std::ofstream out(path);
  out << "a,b,species,c,d,e\n";
  for (int i = 0; i < rows; ++i) {
    const int c = static_cast<int>(rng() % 3);
    float v[5];
    for (int k = 0; k < 5; ++k) v[k] = (k == c ? 2.0f : 0.0f) + noise(rng);
    b.x.insert(b.x.end(), v, v + 5);
    b.y.push_back(c);
    out << v[0] << ',' << v[1] << ',' << kNames[static_cast<std::size_t>(c)] << ',' << v[2] << ',' << v[3] << ','
        << v[4] << '\n';
  }
  return b;
}

std::vector<std::vector<std::string>> read_csv_rows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::stringstream ls(line);
    std::string f;
    while (std::getline(ls, f, ',')) fields.push_back(f);
    rows.push_back(fields);
  }
  return rows;
}

class CliData : public ::testing::Test {
 protected:
  void SetUp() override {
    data = (dir / "blobs.csv").string();
    blobs = write_blobs_csv(data, 300);
    ckpt = (dir / "m" / "m.ckpt").string();
    const auto r = graft("train --data " + quote(data) +
                         " --label-column species --test-split 0.25 --validation-split 0.1 --hidden 16 --epochs 6 "
                         "--lr 0.1 --seed 5 --device cpu --save " + quote(ckpt));
    ASSERT_EQ(r.status, 0) << r.output;
    train_output = r.output;
  }
  test::TempDir dir;
  std::string data, ckpt, train_output;
  Blobs blobs;
};

TEST_F(CliData, TrainReportsTheStratifiedSplitAndEvalScoresTheSameTestRows) {
  std::map<int, int> per_class;
  for (int c : blobs.y) ++per_class[c];
  // round(0.25 n) test rows per class, round(0.1 n) validation rows.
  int test_rows = 0;
  for (const auto& [c, n] : per_class) {
    const int t = static_cast<int>(std::lround(0.25 * n)), v = static_cast<int>(std::lround(0.1 * n));
    test_rows += t;
    char line[128];
    std::snprintf(line, sizeof line, "  %-12s %9d %11d %9d\n", kNames[static_cast<std::size_t>(c)].c_str(), n - t - v, v, t);
    EXPECT_CONTAINS(train_output, line);
  }
  // The last epoch's test accuracy is what eval measures on the same split.
  const auto last = train_output.rfind("test acc ");
  ASSERT_NE(last, std::string::npos) << train_output;
  const double trained = std::stod(train_output.substr(last + 9));

  const auto r = graft_stdout("eval " + quote(ckpt) + " --data " + quote(data) +
                              " --label-column species --test-split 0.25 --seed 5 --json --device cpu");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["samples"], test_rows);
  EXPECT_NEAR(j["accuracy"].get<double>(), trained, 5e-5);
  // The confusion matrix sums to the rows; its diagonal is the backend's count of hits.
  int64_t sum = 0, diagonal = 0;
  const auto& m = j["per_class"]["confusion"];
  for (std::size_t t = 0; t < m.size(); ++t) {
    for (std::size_t p = 0; p < m[t].size(); ++p) sum += m[t][p].get<int64_t>();
    diagonal += m[t][t].get<int64_t>();
  }
  EXPECT_EQ(sum, test_rows);
  EXPECT_EQ(diagonal, j["correct"].get<int64_t>());
  EXPECT_EQ(j["per_class"]["names"], nlohmann::json(kNames));

  const auto text = graft_stdout("eval " + quote(ckpt) + " --data " + quote(data) +
                                 " --label-column species --test-split 0.25 --seed 5 --per-class --device cpu");
  ASSERT_EQ(text.status, 0) << text.output;
  EXPECT_CONTAINS(text.output, "confusion matrix (rows: true class, columns: predicted; " + std::to_string(test_rows));
}

TEST_F(CliData, PredictAgreesWithEvalRowByRow) {
  const std::string out = (dir / "p.csv").string();
  auto r = graft("predict " + quote(ckpt) + " --data " + quote(data) + " --label-column species --out " + quote(out));
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream in(out);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto rows = read_csv_rows(text);
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(blobs.rows + 1));
  EXPECT_EQ(rows[0], (std::vector<std::string>{"label", "p_cat", "p_dog", "p_owl"}));
  // Eval on every row (no split): predict's labels give its confusion
  // matrix, predict's probabilities its loss.
  const auto e = graft_stdout("eval " + quote(ckpt) + " --data " + quote(data) + " --label-column species --json --device cpu");
  ASSERT_EQ(e.status, 0) << e.output;
  const auto j = nlohmann::json::parse(e.output);
  std::vector<std::vector<int64_t>> confusion(3, std::vector<int64_t>(3, 0));
  double loss = 0;
  for (int i = 0; i < blobs.rows; ++i) {
    const auto& f = rows[static_cast<std::size_t>(i + 1)];
    ASSERT_EQ(f.size(), 4u);
    const auto predicted = std::find(kNames.begin(), kNames.end(), f[0]) - kNames.begin();
    ASSERT_LT(predicted, 3) << f[0];
    double total = 0;
    for (int c = 0; c < 3; ++c) total += std::stod(f[static_cast<std::size_t>(c + 1)]);
    EXPECT_NEAR(total, 1.0, 1e-6);
    const auto truth = static_cast<std::size_t>(blobs.y[static_cast<std::size_t>(i)]);
    ++confusion[truth][static_cast<std::size_t>(predicted)];
    loss -= std::log(std::stod(f[truth + 1]));
  }
  EXPECT_EQ(nlohmann::json(confusion), j["per_class"]["confusion"]);
  EXPECT_NEAR(loss / blobs.rows, j["loss"].get<double>(), 1e-5);

  // --top 2: the best two classes, most probable first.
  r = graft_stdout("predict " + quote(ckpt) + " --data " + quote(data) + " --label-column species --top 2");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto top = read_csv_rows(r.output);
  EXPECT_EQ(top[0], (std::vector<std::string>{"label", "p_label", "label_2", "p_label_2"}));
  EXPECT_EQ(top[1][0], rows[1][0]);
  EXPECT_GE(std::stod(top[1][1]), std::stod(top[1][3]));
}

TEST_F(CliData, PredictTakesABareFeaturesNpyAndWritesNpy) {
  const std::string x = (dir / "x.npy").string();
  std::ofstream(x, std::ios::binary) << npy_image_f32(blobs.x, blobs.rows, 5);
  const auto csv = graft_stdout("predict " + quote(ckpt) + " --data " + quote(x));
  ASSERT_EQ(csv.status, 0) << csv.output;
  const auto rows = read_csv_rows(csv.output);
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(blobs.rows + 1));
  const std::string out = (dir / "p.npy").string();
  const auto r = graft("predict " + quote(ckpt) + " --data " + quote(x) + " --out " + quote(out));
  ASSERT_EQ(r.status, 0) << r.output;
  const NpyArray p = read_npy(out);
  ASSERT_EQ(p.shape, (std::vector<int64_t>{blobs.rows, 3}));
  const RawData probs = npy_features(p, out);
  for (int i = 0; i < blobs.rows; ++i) {
    for (int c = 0; c < 3; ++c) {
      ASSERT_EQ(probs.features[static_cast<std::size_t>(i * 3 + c)], std::stof(rows[static_cast<std::size_t>(i + 1)][static_cast<std::size_t>(c + 1)]));
    }
  }
}

TEST(CliDataErrors, MalformedFilesAreOneLineErrors) {
  test::TempDir dir;
  const std::string bad = (dir / "bad.csv").string();
  std::ofstream(bad) << "a,b,label\n1,2,0\n3,4,1\n5,6\n";
  auto r = graft("train --data " + quote(bad) + " --epochs 1 --device cpu");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(r.output, "graft train: error: " + bad + " line 4: 2 fields, the header has 3\n");
  const std::string x = (dir / "x.npy").string();
  std::ofstream(x, std::ios::binary) << npy_image_f32({1, 2, 3, 4}, 2, 2);
  r = graft("train --data " + quote(x) + " --epochs 1 --device cpu");
  EXPECT_CONTAINS(r.output, "x.npy: no labels (give a CSV label column with --label-column, or the labels of an .npy");
  EXPECT_EQ(test::line_count(r.output), 1) << r.output;
  const auto folder = test::banded_data_dir(dir.path(), 10, 10);
  r = graft("train --data " + quote(folder.string()) + " --test-split 0.2 --epochs 1 --device cpu");
  EXPECT_CONTAINS(r.output, "--test-split is for --data FILE; ");
  r = graft("train --data " + quote(bad) + " --validation 10 --epochs 1 --device cpu");
  EXPECT_CONTAINS(r.output, "--validation N is for IDX folders");
}

}  // namespace
}  // namespace graft

namespace graft {
namespace {

// graft export --onnx, checked by Debian's python3-onnx (checker, shape
// inference) and run by a numpy interpreter of the exported graph; its
// probabilities match graft predict's.
TEST_F(CliData, OnnxExportChecksAndMatchesPredict) {
  std::string python;
  for (const char* p : {"/usr/bin/python3", "python3"}) {
    if (test::run_command(std::string(p) + " -c 'import onnx, numpy'").status == 0) {
      python = p;
      break;
    }
  }
  const std::string onnx = (dir / "m.onnx").string(), x = (dir / "x.npy").string(), p = (dir / "p.npy").string();
  auto r = graft("export " + quote(ckpt) + " --onnx " + quote(onnx));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "outputs \"probabilities\" and \"logits\" [N, 3]");
  if (python.empty()) GTEST_SKIP() << "python3-onnx or numpy not installed: the ONNX file is not checked";
  std::ofstream(x, std::ios::binary) << npy_image_f32(blobs.x, blobs.rows, 5);
  r = graft("predict " + quote(ckpt) + " --data " + quote(x) + " --out " + quote(p));
  ASSERT_EQ(r.status, 0) << r.output;
  r = test::run_command(python + " " + quote(std::string(GRAFT_SOURCE_DIR) + "/tests/cli/scripts/check_onnx.py") + " " +
                        quote(onnx) + " " + quote(x) + " " + quote(p));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "ops Gemm,Relu,Softmax\n");
  EXPECT_CONTAINS(r.output, "'graft_class_names': 'cat,dog,owl'");
  const auto at = r.output.find("max_abs_diff ");
  ASSERT_NE(at, std::string::npos) << r.output;
  const double diff = std::stod(r.output.substr(at + 13));
  std::printf("ONNX graph (numpy, float64) vs graft predict: max abs difference %.3g\n", diff);
  EXPECT_LT(diff, 1e-5);
}

}  // namespace
}  // namespace graft
