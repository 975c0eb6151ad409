// host/data/overlap.h: test rows that are training rows, found by content.
#include <gtest/gtest.h>

#include "host/data/overlap.h"
#include "tests/common/expect_contains.h"
#include "tests/common/synthetic_data.h"

namespace graft {
namespace {

DataSplit rows_of(const DataSplit& s, const std::vector<int64_t>& pick) {
  DataSplit out;
  out.cols = s.cols;
  for (int64_t r : pick) {
    out.features.insert(out.features.end(), s.features.begin() + r * s.cols, s.features.begin() + (r + 1) * s.cols);
    out.labels.push_back(s.labels[static_cast<std::size_t>(r)]);
  }
  out.rows = static_cast<int64_t>(pick.size());
  return out;
}

TEST(TrainTestOverlap, FindsTrainingRowsInAnyOrder) {
  const DataSplit train = test::blobs(300, 1);
  const DataSplit other = test::blobs(200, 2);
  EXPECT_EQ(rows_also_in(other, train), 0);
  EXPECT_EQ(train_test_overlap_warning(train, other), "");
  // The same rows, reversed: every one is found.
  std::vector<int64_t> reversed;
  for (int64_t r = 299; r >= 0; --r) reversed.push_back(r);
  const DataSplit same = rows_of(train, reversed);
  EXPECT_EQ(rows_also_in(same, train), 300);
  EXPECT_EQ(train_test_overlap_warning(train, same),
            "warning: 300 of 300 test rows (100%) are also training rows: test accuracy measures memorisation, not "
            "generalisation (test on data the model has not seen)");
  // Ten of 200 (5%) warns; one of 200 (0.5%, a duplicate real data sets have) does not.
  DataSplit mixed = other;
  for (int64_t r = 0; r < 10; ++r) std::copy_n(train.features.begin() + r * 8, 8, mixed.features.begin() + r * 8);
  EXPECT_EQ(rows_also_in(mixed, train), 10);
  EXPECT_CONTAINS(train_test_overlap_warning(train, mixed), "10 of 200 test rows (5%)");
  DataSplit one = other;
  std::copy_n(train.features.begin(), 8, one.features.begin());
  EXPECT_EQ(rows_also_in(one, train), 1);
  EXPECT_EQ(train_test_overlap_warning(train, one), "");
  // A single changed bit is a different row; a different width never matches.
  DataSplit nudged = same;
  nudged.features[0] = std::nextafter(nudged.features[0], 1e9f);
  EXPECT_EQ(rows_also_in(nudged, train), 299);
  DataSplit narrow = same;
  narrow.cols = 4;
  narrow.rows = 600;
  EXPECT_EQ(rows_also_in(narrow, train), 0);
}

}  // namespace
}  // namespace graft
