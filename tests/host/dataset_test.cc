// IDX reading (raw and gzip, header validation, short data) and the data set
// selections: classes with relabelling, validation split, per-class cap.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "checkpoint/error.h"
#include "host/data/dataset.h"
#include "host/data/idx.h"
#include "tests/common/fixtures.h"
#include "tests/common/error_of.h"

namespace graft {
namespace {

using test::error_of;

namespace fs = std::filesystem;

std::vector<uint8_t> idx_bytes(uint8_t type, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<uint8_t>(d >> shift));
  }
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

void write_file(const fs::path& path, const std::vector<uint8_t>& bytes, bool gzip) {
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
    gzclose(f);
  } else {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                static_cast<std::streamsize>(bytes.size()));
  }
}

TEST(Idx, ReadsRawAndGzip) {
  test::TempDir dir;
  const std::vector<uint8_t> pixels = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  for (bool gzip : {false, true}) {
    const fs::path p = dir / (gzip ? "a.gz" : "a");
    write_file(p, idx_bytes(8, {3, 2, 2}, pixels), gzip);
    const IdxArray a = read_idx_u8(p.string(), 3);
    EXPECT_EQ(a.dims, (std::vector<int64_t>{3, 2, 2}));
    EXPECT_EQ(a.data, pixels);
  }
}

TEST(Idx, RejectsBadHeadersBeforeAllocating) {
  test::TempDir dir;
  const fs::path p = dir / "bad";
  write_file(p, {1, 0, 8, 1, 0, 0, 0, 1, 7}, false);
  EXPECT_NE(error_of([&] { read_idx_u8(p.string(), 1); }).find("bad magic"), std::string::npos);
  write_file(p, idx_bytes(0x0D, {1}, {0, 0, 0, 0}), false);
  EXPECT_NE(error_of([&] { read_idx_u8(p.string(), 1); }).find("0x0d"), std::string::npos);
  write_file(p, idx_bytes(8, {1, 1}, {0}), false);
  EXPECT_NE(error_of([&] { read_idx_u8(p.string(), 1); }).find("rank 2, expected 1"), std::string::npos);
  // 65536 x 65536 x 2 bytes = 8 GiB claimed by a 16-byte file.
  write_file(p, idx_bytes(8, {65536, 65536, 2}, {}), false);
  EXPECT_NE(error_of([&] { read_idx_u8(p.string(), 3); }).find("more than 4 GiB"), std::string::npos);
  write_file(p, idx_bytes(8, {0}, {}), false);
  EXPECT_NE(error_of([&] { read_idx_u8(p.string(), 1); }).find("absurd"), std::string::npos);
  write_file(p, {0, 0}, false);
  EXPECT_NE(error_of([&] { read_idx_u8(p.string(), 1); }).find("too short"), std::string::npos);
  EXPECT_NE(error_of([&] { read_idx_u8((dir / "none").string(), 1); }).find("cannot open"), std::string::npos);
}

TEST(Idx, ShortDataNamesTheFile) {
  test::TempDir dir;
  for (bool gzip : {false, true}) {
    const fs::path p = dir / (gzip ? "short.gz" : "short");
    write_file(p, idx_bytes(8, {4, 2, 2}, std::vector<uint8_t>(10, 1)), gzip);
    const std::string e = error_of([&] { read_idx_u8(p.string(), 3); });
    EXPECT_NE(e.find(p.string()), std::string::npos) << e;
    EXPECT_NE(e.find("after 10 of 16 bytes"), std::string::npos) << e;
  }
}

// A data folder: `rows` 1x2 images per split, labels i % 4, pixel i.
void write_dataset(const fs::path& dir, uint32_t train_rows, uint32_t test_rows, bool gzip) {
  for (auto [stem, rows] : {std::pair<const char*, uint32_t>{"train", train_rows}, {"t10k", test_rows}}) {
    std::vector<uint8_t> pixels, labels;
    for (uint32_t i = 0; i < rows; ++i) {
      pixels.push_back(static_cast<uint8_t>(i));
      pixels.push_back(255);
      labels.push_back(static_cast<uint8_t>(i % 4));
    }
    const std::string ext = gzip ? ".gz" : "";
    write_file(dir / (std::string(stem) + "-images-idx3-ubyte" + ext), idx_bytes(8, {rows, 1, 2}, pixels), gzip);
    write_file(dir / (std::string(stem) + "-labels-idx1-ubyte" + ext), idx_bytes(8, {rows}, labels), gzip);
  }
}

TEST(Dataset, SplitsAndScalesPixels) {
  test::TempDir dir;
  write_dataset(dir.path(), 40, 12, true);
  DatasetOptions o;
  o.dir = dir.path().string();
  o.validation = 10;
  const Dataset d = load_dataset(o);
  EXPECT_EQ(d.num_classes, 4);
  EXPECT_EQ(d.train.rows, 30);
  EXPECT_EQ(d.validation.rows, 10);
  EXPECT_EQ(d.test.rows, 12);
  EXPECT_EQ(d.train.cols, 2);
  // Validation = the first rows in file order; training = the rest.
  EXPECT_FLOAT_EQ(d.validation.features[2 * 3], 3.0f / 255.0f);
  EXPECT_FLOAT_EQ(d.validation.features[2 * 3 + 1], 1.0f);
  EXPECT_FLOAT_EQ(d.train.features[0], 10.0f / 255.0f);
  EXPECT_EQ(d.train.labels[0], 10 % 4);
  EXPECT_EQ(d.describe(), "30 train, 10 validation, 12 test; 2 features; 4 classes");
}

TEST(Dataset, ClassesRelabelAndPerClassCap) {
  test::TempDir dir;
  write_dataset(dir.path(), 40, 12, false);
  DatasetOptions o;
  o.dir = dir.path().string();
  o.classes = {3, 1};  // 3 -> 0, 1 -> 1
  o.validation = 4;
  o.per_class = 2;
  const Dataset d = load_dataset(o);
  EXPECT_EQ(d.num_classes, 2);
  EXPECT_EQ(d.original_labels, (std::vector<int>{3, 1}));
  // Kept rows in file order: 1, 3, 5, 7 (validation), then 9, 11, 13, 15, ...
  ASSERT_EQ(d.validation.rows, 4);
  EXPECT_EQ(d.validation.labels, (std::vector<int32_t>{1, 0, 1, 0}));
  ASSERT_EQ(d.train.rows, 4);  // the first two of each class after the validation rows
  EXPECT_EQ(d.train.labels, (std::vector<int32_t>{1, 0, 1, 0}));
  EXPECT_FLOAT_EQ(d.train.features[0], 9.0f / 255.0f);
  EXPECT_FLOAT_EQ(d.train.features[6], 15.0f / 255.0f);
  EXPECT_EQ(d.test.rows, 6);
  for (int32_t l : d.test.labels) EXPECT_TRUE(l == 0 || l == 1);

  o.load_train = false;
  const Dataset test_only = load_dataset(o);
  EXPECT_EQ(test_only.train.rows, 0);
  EXPECT_EQ(test_only.test.rows, 6);
}

TEST(Dataset, Errors) {
  test::TempDir dir;
  DatasetOptions o;
  o.dir = (dir / "absent").string();
  EXPECT_NE(error_of([&] { load_dataset(o); }).find("does not exist"), std::string::npos);
  o.dir = dir.path().string();
  EXPECT_NE(error_of([&] { load_dataset(o); }).find("missing t10k-images-idx3-ubyte[.gz]"), std::string::npos);
  write_dataset(dir.path(), 40, 12, false);
  o.validation = 40;
  EXPECT_NE(error_of([&] { load_dataset(o); }).find("leaves no training rows"), std::string::npos);
  o.validation = 5;
  write_file(dir / "train-labels-idx1-ubyte", idx_bytes(8, {39}, std::vector<uint8_t>(39, 0)), false);
  EXPECT_NE(error_of([&] { load_dataset(o); }).find("39 labels for 40 images"), std::string::npos);
}

// Issue 15: a label of 200 among 0-3 silently made a 201-class model (and
// a stray validation label was scored as a miss). The error names the file
// and the row.
TEST(Dataset, StrayLabelIsAnErrorNamingFileAndRow) {
  test::TempDir dir;
  write_dataset(dir.path(), 40, 12, false);
  std::vector<uint8_t> labels(40);
  for (int i = 0; i < 40; ++i) labels[static_cast<std::size_t>(i)] = static_cast<uint8_t>(i % 4);
  labels[17] = 200;
  write_file(dir / "train-labels-idx1-ubyte", idx_bytes(8, {40}, labels), false);
  DatasetOptions o;
  o.dir = dir.path().string();
  o.validation = 5;
  const std::string msg = error_of([&] { load_dataset(o); });
  EXPECT_NE(msg.find((dir / "train-labels-idx1-ubyte").string() + ": row 17 has label 200, but no row has label 4"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("the model would get 201 classes"), std::string::npos) << msg;
  // In a validation row too (row 2 < --validation 5).
  labels[17] = 1;
  labels[2] = 9;
  write_file(dir / "train-labels-idx1-ubyte", idx_bytes(8, {40}, labels), false);
  EXPECT_NE(error_of([&] { load_dataset(o); }).find("row 2 has label 9"), std::string::npos);
  // Choosing the classes is the way out.
  o.classes = {0, 1, 2, 3};
  EXPECT_EQ(load_dataset(o).num_classes, 4);
}

// Issue 15: `--classes 11-12` on a 0-3 data set blamed --validation.
TEST(Dataset, ClassesThatNeverOccurAreNamed) {
  test::TempDir dir;
  write_dataset(dir.path(), 40, 12, false);
  DatasetOptions o;
  o.dir = dir.path().string();
  o.validation = 5;
  o.classes = {11, 12};
  const std::string msg = error_of([&] { load_dataset(o); });
  EXPECT_NE(msg.find("train-labels-idx1-ubyte: no row has any of the chosen classes (11, 12)"), std::string::npos)
      << msg;
}

TEST(Dataset, ParseClassList) {
  EXPECT_EQ(parse_class_list("5-9"), (std::vector<int>{5, 6, 7, 8, 9}));
  EXPECT_EQ(parse_class_list("0,2,4"), (std::vector<int>{0, 2, 4}));
  EXPECT_EQ(parse_class_list("0-2,7"), (std::vector<int>{0, 1, 2, 7}));
  for (const char* bad : {"", "a", "3-1", "1,1", "-1", "1,", "0-300"}) {
    EXPECT_THROW(parse_class_list(bad), Error) << bad;
  }
}

TEST(Dataset, FashionMnistDefaults) {
  if (!fs::exists(std::string(kDefaultDataDir) + "/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST not installed at " << kDefaultDataDir << " (Debian: dataset-fashion-mnist)";
  }
  const Dataset d = load_dataset(DatasetOptions{});
  EXPECT_EQ(d.train.rows, 55000);
  EXPECT_EQ(d.validation.rows, 5000);
  EXPECT_EQ(d.test.rows, 10000);
  EXPECT_EQ(d.test.cols, 784);
  EXPECT_EQ(d.num_classes, 10);
}

}  // namespace
}  // namespace graft
