// The data-file readers (host/data/npy, npz, csv, idx, data_file): round
// trips of files written here (and by numpy when it is installed), and one
// test per malformed input, each checking that the one-line error names the
// file and the row, line or field.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>

#include "host/data/csv.h"
#include "host/data/data_file.h"
#include "host/data/file_dataset.h"
#include "host/data/idx.h"
#include "host/data/npy.h"
#include "host/data/npz.h"
#include "tests/common/error_of.h"
#include "tests/common/expect_contains.h"
#include "tests/common/fixtures.h"

namespace graft {
namespace {

using test::error_of;
using test::TempDir;

void write_file(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

// A .npy image with a hand-written header (for dtypes and versions graft
// does not write itself).
std::string npy_with_header(const std::string& dict, const std::string& data, int major = 1) {
  std::string header = dict;
  const std::size_t pre = major == 1 ? 10 : 12;
  header.append((64 - (pre + header.size() + 1) % 64) % 64, ' ');
  header.push_back('\n');
  std::string out("\x93NUMPY", 6);
  out.push_back(static_cast<char>(major));
  out.push_back('\0');
  const std::size_t n = header.size();
  out.push_back(static_cast<char>(n & 0xff));
  out.push_back(static_cast<char>((n >> 8) & 0xff));
  if (major != 1) out.append(2, '\0');
  return out + header + data;
}

NpyArray parse(const std::string& image, const std::string& origin = "t.npy", DataLimits limits = {}) {
  return parse_npy(reinterpret_cast<const uint8_t*>(image.data()), image.size(), origin, limits);
}

TEST(Npy, RoundTripsFloat32AndInt32) {
  const std::vector<float> x = {0.5f, -1.25f, 3e8f, 0.0f, 7.0f, -2.0f};
  RawData r = npy_features(parse(npy_image_f32(x, 2, 3)), "t.npy");
  EXPECT_EQ(r.rows, 2);
  EXPECT_EQ(r.cols, 3);
  EXPECT_EQ(r.features, x);
  EXPECT_EQ(r.natural_scale, 1.0);
  EXPECT_EQ(npy_labels(parse(npy_image_i32({3, 0, 65535})), "y.npy"), (std::vector<int32_t>{3, 0, 65535}));
}

TEST(Npy, ReadsVersion2BigEndianFloat64AndFortranOrder) {
  // [[1, 2, 3], [4, 5, 6]] stored column by column, big-endian doubles.
  std::string data;
  for (double v : {1.0, 4.0, 2.0, 5.0, 3.0, 6.0}) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    for (int i = 7; i >= 0; --i) data.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
  }
  const RawData r = npy_features(
      parse(npy_with_header("{'descr': '>f8', 'fortran_order': True, 'shape': (2, 3), }", data, 2)), "t.npy");
  EXPECT_EQ(r.features, (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(Npy, Uint8ImagesAreFlattenedAndScaledBy255) {
  const RawData r = npy_features(
      parse(npy_with_header("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2, 3)}", std::string(12, '\xff'))),
      "t.npy");
  EXPECT_EQ(r.cols, 6);
  EXPECT_EQ(r.natural_scale, 1.0 / 255.0);
  std::vector<float> f = r.features;
  apply_input_transform(f, r.cols, r.natural_scale, {}, {});
  EXPECT_EQ(f[0], 1.0f);
}

TEST(Npy, TransformOfBytesIsTheIdxLoadersDivision) {
  std::vector<float> f(256);
  for (int i = 0; i < 256; ++i) f[static_cast<std::size_t>(i)] = static_cast<float>(i);
  apply_input_transform(f, 1, 1.0 / 255.0, {}, {});
  for (int i = 0; i < 256; ++i) ASSERT_EQ(f[static_cast<std::size_t>(i)], static_cast<float>(i) / 255.0f) << i;
}

TEST(Npy, Int64LabelsAndColumnVectors) {
  std::string data;
  for (int64_t v : {2, 9}) data.append(reinterpret_cast<const char*>(&v), 8);
  EXPECT_EQ(npy_labels(parse(npy_with_header("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 1), }", data)), "y"),
            (std::vector<int32_t>{2, 9}));
}

TEST(Npy, MalformedHeadersAreOneLineErrorsNamingTheFile) {
  const std::string f4 = std::string(8, '\0');
  const std::map<std::string, std::pair<std::string, std::string>> cases = {
      {"magic", {"NUMPY\x01\x00", "no \\x93NUMPY magic"}},
      {"version", {npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", f4, 4), "version 4.0"}},
      {"missing key", {npy_with_header("{'descr': '<f4', 'shape': (2,)}", f4), "missing key 'fortran_order'"}},
      {"twice", {npy_with_header("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", f4),
                 "'descr' given twice"}},
      {"unknown key", {npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", f4),
                       "unexpected key 'x'"}},
      {"dtype", {npy_with_header("{'descr': '<c8', 'fortran_order': False, 'shape': (1,)}", f4), "dtype '<c8'"}},
      {"object", {npy_with_header("{'descr': '|O', 'fortran_order': False, 'shape': (1,)}", f4), "dtype '|O'"}},
      {"short", {npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}", f4),
                 "announces 12 bytes of data"}},
      {"overflow", {npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", f4),
                    "overflows"}},
      {"huge", {npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (100000000, 100)}", f4),
                "more than the data memory limit of 8.0 GiB"}},
      {"header length", {std::string("\x93NUMPY\x01\x00\xff\xff{}", 12), "header of 65535 bytes"}},
      {"bool", {npy_with_header("{'descr': '<f4', 'fortran_order': maybe, 'shape': (2,)}", f4), "True or False"}},
  };
  for (const auto& [name, c] : cases) {
    const std::string e = error_of([&] { parse(c.first, "bad.npy"); });
    EXPECT_NE(e.find("bad.npy: "), std::string::npos) << name << ": " << e;
    EXPECT_NE(e.find(c.second), std::string::npos) << name << ": " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << name << ": " << e;
  }
}

TEST(Npy, RefusesNanFeaturesAndBadLabelsNamingTheRow) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(error_of([&] { npy_features(parse(npy_image_f32({1, 2, 3, nan}, 2, 2)), "x.npy"); }),
            "x.npy: row 1 column 1: feature value nan is not a finite float32");
  EXPECT_EQ(error_of([&] { npy_labels(parse(npy_image_i32({1, -4})), "y.npy"); }),
            "y.npy: row 1: label -4 is out of range (0..65535)");
  EXPECT_NE(error_of([&] { npy_labels(parse(npy_image_f32({1, 2}, 2, 0)), "y.npy"); }).find("labels of dtype <f4"),
            std::string::npos);
  EXPECT_NE(error_of([&] { npy_labels(parse(npy_image_f32({1, 2}, 1, 2)), "y.npy"); }).find("shape [N]"),
            std::string::npos);
}

TEST(Npz, RoundTripsTheKerasNamesIntoSplits) {
  TempDir dir;
  const auto path = (dir / "d.npz").string();
  write_npz(path, {{"x_train", npy_image_f32({1, 2, 3, 4, 5, 6}, 3, 2)},
                   {"y_train", npy_image_i32({0, 1, 1})},
                   {"x_test", npy_image_f32({7, 8}, 1, 2)},
                   {"y_test", npy_image_i32({1})}});
  const DataFile f = read_data_file(path);
  EXPECT_EQ(f.format, "npz");
  EXPECT_EQ(f.rows.rows, 3);
  EXPECT_EQ(f.rows.labels, (std::vector<int32_t>{0, 1, 1}));
  ASSERT_TRUE(f.test.has_value());
  EXPECT_EQ(f.test->features, (std::vector<float>{7, 8}));
  EXPECT_FALSE(f.validation.has_value());
}

TEST(Npz, RefusesUnknownArraysMismatchedRowsAndNonZipBytes) {
  TempDir dir;
  const auto path = (dir / "d.npz").string();
  write_npz(path, {{"x_train", npy_image_f32({1, 2}, 2, 1)}, {"weights", npy_image_i32({0})}});
  EXPECT_NE(error_of([&] { read_data_file(path); }).find("d.npz: array 'weights' is not one graft reads; an .npz may hold x_train/y_train"),
            std::string::npos);
  write_npz(path, {{"x_train", npy_image_f32({1, 2}, 2, 1)}, {"y_train", npy_image_i32({0})}});
  EXPECT_NE(error_of([&] { read_data_file(path); }).find("d.npz:y_train: 1 labels for the 2 rows of"), std::string::npos);
  write_file(dir / "bad.npz", std::string("PK\x03\x04", 4) + std::string(40, 'x'));
  EXPECT_NE(error_of([&] { read_data_file((dir / "bad.npz").string()); }).find("bad.npz: not a readable .npz (zip) archive"),
            std::string::npos);
  write_npz(path, {{"x_train", "not an npy image"}});
  EXPECT_NE(error_of([&] { read_data_file(path); }).find("d.npz:x_train.npy: not a .npy file"), std::string::npos);
}

TEST(Csv, ReadsNumericFeaturesAndIntegerLabels) {
  TempDir dir;
  write_file(dir / "d.csv", "a,label,b\n1.5,2,-3\n 4 ,0,5e-1\r\n\"6\",1,7\n");
  const RawData r = read_csv((dir / "d.csv").string());
  EXPECT_EQ(r.rows, 3);
  EXPECT_EQ(r.cols, 2);
  EXPECT_EQ(r.features, (std::vector<float>{1.5f, -3, 4, 0.5f, 6, 7}));
  EXPECT_EQ(r.labels, (std::vector<int32_t>{2, 0, 1}));
  EXPECT_EQ(r.column_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(r.class_names.empty());
}

TEST(Csv, MapsClassNamesInSortedOrderAndByAGivenMapping) {
  TempDir dir;
  write_file(dir / "d.csv", "x,species\n1,owl\n2,cat\n3,\"dog, spotted\"\n4,cat\n");
  CsvOptions o;
  o.label_column = "1";  // by index
  const RawData r = read_csv((dir / "d.csv").string(), o);
  EXPECT_EQ(r.class_names, (std::vector<std::string>{"cat", "dog, spotted", "owl"}));
  EXPECT_EQ(r.labels, (std::vector<int32_t>{2, 0, 1, 0}));
  o.label_column = "species";
  o.class_names = {"owl", "dog, spotted", "cat"};
  EXPECT_EQ(read_csv((dir / "d.csv").string(), o).labels, (std::vector<int32_t>{0, 2, 1, 2}));
  o.class_names = {"owl", "cat"};
  EXPECT_EQ(error_of([&] { read_csv((dir / "d.csv").string(), o); }),
            (dir / "d.csv").string() + " line 4: column 'species': class 'dog, spotted' is not one of the model's classes (owl,cat)");
}

TEST(Csv, MalformedFilesNameTheLineAndColumn) {
  TempDir dir;
  const std::string p = (dir / "bad.csv").string();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a,label\n1,0\n2,1,3\n", p + " line 3: 3 fields, the header has 2"},
      {"a,label\n1,0\nx,1\n", p + " line 3: column 'a': 'x' is not a number"},
      {"a,label\n1,0\n,1\n", p + " line 3: column 'a': '' is not a number"},
      {"a,label\nnan,0\n", p + " line 2: column 'a': feature value nan is not a finite float32"},
      {"a,label\n1e39,0\n", p + " line 2: column 'a': feature value 1e39 is not a finite float32"},
      {"a,label\n1,0\n2,70000\n", p + " line 3: column 'label': label 70000 is out of range (0..65535)"},
      {"a,label\n1,0\n2,-1\n", p + " line 3: column 'label': label -1 is out of range (0..65535)"},
      {"a,label\n1,\"0\n", p + " line 2: "},
      {"", p + ": empty file"},
      {"a,label\n", p + ": a header but no data rows"},
      {"a,b\n1,2\n", p + ": no label column 'label' (columns: a,b); name it with --label-column"},
  };
  CsvOptions o;
  o.require_label = true;
  for (const auto& [text, expected] : cases) {
    write_file(p, text);
    const std::string e = error_of([&] { read_csv(p, o); });
    EXPECT_NE(e.find(expected), std::string::npos) << text << " -> " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
  o.label_column = "nope";
  write_file(p, "a,b\n1,2\n");
  EXPECT_EQ(error_of([&] { read_csv(p, o); }),
            p + ": no column 'nope' (columns: a,b); --label-column takes a name or a 0-based index");
}

TEST(Csv, LinesCountQuotedNewlines) {
  TempDir dir;
  const std::string p = (dir / "q.csv").string();
  write_file(p, "note,a,label\n\"two\nlines\",1,0\nok,2,1\n");
  CsvOptions o;
  // "note" is text: the error is on line 3, where the first record ends.
  EXPECT_EQ(error_of([&] { read_csv(p, o); }).rfind(p + " line 3: column 'note'", 0), 0u);
}

TEST(Csv, RefusesMoreThanTheMemoryLimit) {
  TempDir dir;
  const std::string p = (dir / "big.csv").string();
  std::string text = "a,b,label\n";
  for (int i = 0; i < 100; ++i) text += "1,2,0\n";
  write_file(p, text);
  CsvOptions o;
  o.limits.max_bytes = 400;
  EXPECT_NE(error_of([&] { read_csv(p, o); }).find("more than the data memory limit of 400 bytes"), std::string::npos);
}

TEST(Idx, ReadsFloatImagesOfAnyShape) {
  TempDir dir;
  // 2 images of 3x5 float32 (0x0D), big-endian.
  std::string bytes("\0\0\x0d\x03", 4);
  for (uint32_t d : {2u, 3u, 5u}) {
    for (int i = 3; i >= 0; --i) bytes.push_back(static_cast<char>((d >> (8 * i)) & 0xff));
  }
  for (int i = 0; i < 30; ++i) {
    const float v = 0.25f * static_cast<float>(i) - 3.0f;
    uint32_t b;
    std::memcpy(&b, &v, 4);
    for (int k = 3; k >= 0; --k) bytes.push_back(static_cast<char>((b >> (8 * k)) & 0xff));
  }
  write_file(dir / "f.idx", bytes);
  const DataFile f = read_data_file((dir / "f.idx").string());
  EXPECT_EQ(f.format, "idx");
  EXPECT_EQ(f.rows.rows, 2);
  EXPECT_EQ(f.rows.cols, 15);
  EXPECT_EQ(f.rows.natural_scale, 1.0);
  EXPECT_EQ(f.rows.features[29], 0.25f * 29 - 3.0f);
  write_file(dir / "t.idx", std::string("\0\0\x0a\x01\0\0\0\x01x", 9));
  EXPECT_NE(error_of([&] { read_data_file((dir / "t.idx").string()); }).find("IDX element type 0x0a"), std::string::npos);
  write_file(dir / "s.idx", bytes.substr(0, bytes.size() - 3));
  EXPECT_NE(error_of([&] { read_data_file((dir / "s.idx").string()); }).find("data ends after 117 of 120 bytes"),
            std::string::npos);
}

TEST(DataFile, NpyFeaturesTakeLabelsFromAnotherFile) {
  TempDir dir;
  write_file(dir / "x.npy", npy_image_f32({1, 2, 3, 4}, 2, 2));
  write_file(dir / "y.npy", npy_image_i32({1, 0}));
  DataFileOptions o;
  o.labels = (dir / "y.npy").string();
  const DataFile f = read_data_file((dir / "x.npy").string(), o);
  EXPECT_EQ(f.rows.labels, (std::vector<int32_t>{1, 0}));
  write_file(dir / "y3.npy", npy_image_i32({1, 0, 1}));
  o.labels = (dir / "y3.npy").string();
  EXPECT_NE(error_of([&] { read_data_file((dir / "x.npy").string(), o); }).find("3 labels for the 2 rows"),
            std::string::npos);
}

// numpy itself writes the files: Debian's python3-numpy, when installed.
std::string numpy_python() {
  for (const char* python : {"/usr/bin/python3", "python3"}) {
    if (std::system((std::string(python) + " -c 'import numpy' >/dev/null 2>&1").c_str()) == 0) return python;
  }
  return "";
}

TEST(Numpy, FilesWrittenByNumpyReadBack) {
  const std::string python = numpy_python();
  if (python.empty()) GTEST_SKIP() << "numpy not installed (Debian: python3-numpy); files written by numpy not checked";
  TempDir dir;
  const std::string script =
      "import numpy as np, sys\n"
      "d = sys.argv[1]\n"
      "x = np.arange(12, dtype=np.float64).reshape(3, 4) / 8 - 0.5\n"
      "np.save(d + '/f64.npy', x)\n"
      "np.save(d + '/f32_fortran.npy', np.asfortranarray(x.astype(np.float32)))\n"
      "np.save(d + '/be.npy', x.astype('>f4'))\n"
      "np.save(d + '/u8.npy', (np.arange(24) * 10 % 256).astype(np.uint8).reshape(3, 2, 4))\n"
      "np.save(d + '/y.npy', np.array([2, 0, 1]))\n"
      "np.savez_compressed(d + '/d.npz', x_train=x, y_train=np.array([2, 0, 1], dtype=np.uint8), "
      "x_test=x[:1], y_test=np.array([2]))\n"
      "np.lib.format.write_array(open(d + '/v2.npy', 'wb'), x, version=(2, 0))\n";
  write_file(dir / "w.py", script);
  ASSERT_EQ(std::system((python + " " + (dir / "w.py").string() + " " + dir.path().string()).c_str()), 0);
  std::vector<float> expected;
  for (int i = 0; i < 12; ++i) expected.push_back(static_cast<float>(i / 8.0 - 0.5));
  for (const char* name : {"f64.npy", "f32_fortran.npy", "be.npy", "v2.npy"}) {
    const RawData r = npy_features(read_npy((dir / name).string()), name);
    EXPECT_EQ(r.rows, 3) << name;
    EXPECT_EQ(r.features, expected) << name;
  }
  const RawData u8 = npy_features(read_npy((dir / "u8.npy").string()), "u8");
  EXPECT_EQ(u8.cols, 8);
  EXPECT_EQ(u8.features[23], 230 % 256);
  EXPECT_EQ(u8.natural_scale, 1.0 / 255.0);
  EXPECT_EQ(npy_labels(read_npy((dir / "y.npy").string()), "y"), (std::vector<int32_t>{2, 0, 1}));
  const DataFile f = read_data_file((dir / "d.npz").string());
  EXPECT_EQ(f.rows.features, expected);
  EXPECT_EQ(f.rows.labels, (std::vector<int32_t>{2, 0, 1}));
  ASSERT_TRUE(f.test.has_value());
  EXPECT_EQ(f.test->labels, (std::vector<int32_t>{2}));
}

}  // namespace
}  // namespace graft
