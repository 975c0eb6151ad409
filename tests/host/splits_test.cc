// Stratified splits (host/data/splits.h), data sets from files
// (host/data/file_dataset.h) and the per-class report (host/predict/class_report.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "host/data/file_dataset.h"
#include "host/data/npy.h"
#include "host/data/splits.h"
#include "host/predict/class_report.h"
#include "tests/common/error_of.h"
#include "tests/common/expect_contains.h"
#include "tests/common/fixtures.h"

namespace graft {
namespace {

std::vector<int32_t> labels_of(const std::vector<int32_t>& labels, const std::vector<int64_t>& rows) {
  std::vector<int32_t> out;
  for (int64_t r : rows) out.push_back(labels[static_cast<std::size_t>(r)]);
  return out;
}

std::map<int32_t, int64_t> counts(const std::vector<int32_t>& labels) {
  std::map<int32_t, int64_t> c;
  for (int32_t l : labels) ++c[l];
  return c;
}

// 100 rows of class 0, 40 of class 1, 10 of class 7, interleaved.
std::vector<int32_t> example_labels() {
  std::vector<int32_t> labels;
  for (int i = 0; i < 150; ++i) labels.push_back(i % 15 == 0 ? 7 : i % 15 < 5 ? 1 : 0);
  return labels;
}

TEST(Splits, AreStratifiedPerClassAndCoverEveryRowOnce) {
  const std::vector<int32_t> labels = example_labels();
  ASSERT_EQ(counts(labels), (std::map<int32_t, int64_t>{{0, 100}, {1, 40}, {7, 10}}));
  const RowSplit s = stratified_split(labels, {0.2, 0.1, 42});
  EXPECT_EQ(counts(labels_of(labels, s.test)), (std::map<int32_t, int64_t>{{0, 20}, {1, 8}, {7, 2}}));
  EXPECT_EQ(counts(labels_of(labels, s.validation)), (std::map<int32_t, int64_t>{{0, 10}, {1, 4}, {7, 1}}));
  std::vector<int64_t> all = s.train;
  all.insert(all.end(), s.validation.begin(), s.validation.end());
  all.insert(all.end(), s.test.begin(), s.test.end());
  std::sort(all.begin(), all.end());
  for (std::size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], static_cast<int64_t>(i));
  EXPECT_TRUE(std::is_sorted(s.test.begin(), s.test.end()));  // file order
}

TEST(Splits, AreReproducibleBySeedAndIndependentOfOtherClasses) {
  const std::vector<int32_t> labels = example_labels();
  const RowSplit a = stratified_split(labels, {0.2, 0.0, 42});
  EXPECT_EQ(stratified_split(labels, {0.2, 0.0, 42}).test, a.test);
  EXPECT_NE(stratified_split(labels, {0.2, 0.0, 43}).test, a.test);
  // Without class 1 the rows of classes 0 and 7 split exactly as before.
  std::vector<int32_t> without1;
  std::vector<int64_t> original_row;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] != 1) {
      without1.push_back(labels[i]);
      original_row.push_back(static_cast<int64_t>(i));
    }
  }
  std::set<int64_t> test_rows;
  for (int64_t r : stratified_split(without1, {0.2, 0.0, 42}).test) test_rows.insert(original_row[static_cast<std::size_t>(r)]);
  std::set<int64_t> expected;
  for (int64_t r : a.test) {
    if (labels[static_cast<std::size_t>(r)] != 1) expected.insert(r);
  }
  EXPECT_EQ(test_rows, expected);
}

TEST(Splits, RefuseFractionsThatLeaveNoTrainingRows) {
  EXPECT_EQ(test::error_of([] { stratified_split({0, 1}, {0.6, 0.4, 1}); }),
            "--test-split 0.6 and --validation-split 0.4 leave no training rows");
  EXPECT_EQ(test::error_of([] { stratified_split({0, 1}, {-0.1, 0.0, 1}); }),
            "--test-split -0.1 is not a fraction in [0, 1)");
}

TEST(FileDataset, SplitsAFileReportsRowsPerClassAndSelectsClasses) {
  test::TempDir dir;
  const std::vector<int32_t> labels = example_labels();
  std::vector<float> x;
  for (std::size_t i = 0; i < labels.size(); ++i) x.insert(x.end(), {static_cast<float>(i), 255.0f});
  std::ofstream((dir / "x.npy").string(), std::ios::binary) << npy_image_f32(x, static_cast<int64_t>(labels.size()), 2);
  std::ofstream((dir / "y.npy").string(), std::ios::binary) << npy_image_i32(labels);
  FileDatasetOptions o;
  o.data = (dir / "x.npy").string();
  o.file.labels = (dir / "y.npy").string();
  o.split = {0.2, 0.1, 42};
  const Dataset d = load_file_dataset(o);
  EXPECT_EQ(d.train.rows, 105);
  EXPECT_EQ(d.validation.rows, 15);
  EXPECT_EQ(d.test.rows, 30);
  EXPECT_EQ(d.num_classes, 8);
  EXPECT_EQ(d.input_scale, 1.0);
  EXPECT_CONTAINS(d.split_report, "  7                    7           1         2\n");
  EXPECT_CONTAINS(d.split_report, "  total              105          15        30\n");
  // Eval of a head trained on classes 7 and 1 (outputs 0 and 1): the same
  // test rows of those classes, relabelled.
  FileDatasetOptions e = o;
  e.load_train = false;
  e.classes = {7, 1};
  const Dataset t = load_file_dataset(e);
  EXPECT_EQ(t.test.rows, 10);
  EXPECT_EQ(counts(t.test.labels), (std::map<int32_t, int64_t>{{0, 2}, {1, 8}}));
  for (int64_t r = 0; r < t.test.rows; ++r) {
    const auto row = static_cast<std::size_t>(t.test.features[static_cast<std::size_t>(2 * r)]);
    EXPECT_EQ(t.test.labels[static_cast<std::size_t>(r)], labels[row] == 7 ? 0 : 1);
    EXPECT_NE(std::find(d.test.features.begin(), d.test.features.end(), static_cast<float>(row)), d.test.features.end());
  }
  // A recorded input transform is applied.
  ModelInput input;
  input.features = 2;
  input.scale = 1.0 / 255.0;
  e.input = input;
  EXPECT_EQ(load_file_dataset(e).test.features[1], 1.0f);
  input.features = 3;
  e.input = input;
  EXPECT_CONTAINS(test::error_of([&] { load_file_dataset(e); }), "the model takes 3 features");
}

TEST(ClassReport, ConfusionMatrixSumsToTheRowsAndGivesPrecisionAndRecall) {
  const std::vector<int32_t> truth = {0, 0, 0, 1, 1, 2, 2, 2, 2};
  const std::vector<int32_t> predicted = {0, 0, 1, 1, 1, 2, 2, 0, 2};
  const ClassReport r = class_report(truth, predicted, {"cat", "dog", "owl", "unused3"});
  int64_t sum = 0;
  for (const auto& row : r.confusion) for (int64_t v : row) sum += v;
  EXPECT_EQ(sum, 9);
  EXPECT_EQ(r.correct, 7);
  ASSERT_EQ(r.classes.size(), 3u);  // the unused output has no rows and no predictions
  EXPECT_EQ(r.classes[0].rows, 3);
  EXPECT_EQ(r.classes[0].predicted, 3);
  EXPECT_DOUBLE_EQ(*r.classes[0].precision, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(*r.classes[1].precision, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(*r.classes[1].recall, 1.0);
  EXPECT_DOUBLE_EQ(*r.classes[2].recall, 0.75);
  EXPECT_CONTAINS(r.text(), "  owl            4         3        3    1.0000   0.7500\n");
  EXPECT_CONTAINS(r.text(), "  cat          2      1      0\n");
  EXPECT_EQ(r.json()["confusion"][2][0], 1);
  EXPECT_CONTAINS(test::error_of([] { class_report({0}, {4}, {"a", "b"}); }), "row 0");
}

}  // namespace
}  // namespace graft
