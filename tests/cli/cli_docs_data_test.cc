// docs/data.md, run: every `graft ...` command of its ```sh blocks, in order,
// in a folder holding what the page starts from: digits.csv (MNIST t10k
// digits 5-9 as 784 pixel columns 0-255 and a `digit` column of names),
// new_digits.csv (more such rows, no label column) and tf_model/ (the TF1
// checkpoint fixture, trained on digits 0-9 by TensorFlow). Then the ONNX
// file it exports is checked against graft predict (python3-onnx).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "host/data/idx.h"
#include "host/data/npy.h"
#include "tests/cli/cli_util.h"
#include "tests/common/expect_contains.h"
#include "tests/common/fixtures.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

const char* const kDigitNames[] = {"five", "six", "seven", "eight", "nine"};

// The commands of docs/data.md: lines of ```sh blocks that start with
// "graft ", continued over trailing backslashes.
std::vector<std::string> doc_commands(const fs::path& doc) {
  std::ifstream in(doc);
  std::vector<std::string> out;
  std::string line, command;
  bool in_sh = false;
  while (std::getline(in, line)) {
    if (line.rfind("```", 0) == 0) {
      in_sh = !in_sh && line == "```sh";
      continue;
    }
    if (!in_sh) continue;
    if (command.empty() && line.rfind("graft ", 0) != 0) continue;
    const bool more = !line.empty() && line.back() == '\\';
    command += more ? line.substr(0, line.size() - 1) : line;
    if (!more) {
      out.push_back(command);
      command.clear();
    }
  }
  return out;
}

// Rows [begin, end) of t10k whose digit is 5-9, as CSV (with or without the label).
void write_digits_csv(const IdxArray& images, const IdxArray& labels, int64_t begin, int64_t end, bool with_label,
                      const fs::path& path) {
  std::ofstream out(path);
  for (int p = 0; p < 784; ++p) out << (p ? "," : "") << "px" << p;
  out << (with_label ? ",digit\n" : "\n");
  for (int64_t i = begin; i < end; ++i) {
    const int digit = labels.data[static_cast<std::size_t>(i)];
    if (digit < 5) continue;
    for (int p = 0; p < 784; ++p) out << (p ? "," : "") << int{images.data[static_cast<std::size_t>(i * 784 + p)]};
    if (with_label) out << ',' << kDigitNames[digit - 5];
    out << '\n';
  }
}

TEST(DocsData, EveryCommandOfTheCsvToPredictionsPageRuns) {
  GRAFT_REQUIRE_FIXTURE(mnist, "mnist");
  GRAFT_REQUIRE_FIXTURE(tf_model, "tf1/seed_original");
  const std::vector<std::string> commands = doc_commands(fs::path(GRAFT_SOURCE_DIR) / "docs" / "data.md");
  ASSERT_GE(commands.size(), 4u);
  test::TempDir dir;
  const IdxArray images = read_idx_u8((mnist / "t10k-images-idx3-ubyte.gz").string(), 3);
  const IdxArray labels = read_idx_u8((mnist / "t10k-labels-idx1-ubyte.gz").string(), 1);
  write_digits_csv(images, labels, 0, 3000, true, dir / "digits.csv");
  write_digits_csv(images, labels, 3000, 3020, false, dir / "new_digits.csv");
  fs::create_directory_symlink(tf_model, dir / "tf_model");
  std::string all;
  for (const std::string& c : commands) {
    SCOPED_TRACE(c);
    const auto r = test::run_command("cd " + test::quote(dir.path().string()) + " && '" + test::graft_executable() +
                                     "' " + c.substr(6));
    ASSERT_EQ(r.status, 0) << r.output;
    all += r.output;
  }
  // What the page says happens.
  EXPECT_CONTAINS(all, "hidden1/kernel  [784, 300]   restored from hidden1/kernel [frozen]");
  EXPECT_CONTAINS(all, "split (stratified per class, seed 1):");
  EXPECT_CONTAINS(all, "confusion matrix (rows: true class, columns: predicted;");
  std::ifstream predictions(dir / "predictions.csv");
  std::string header;
  std::getline(predictions, header);
  EXPECT_EQ(header, "label,p_eight,p_five,p_nine,p_seven,p_six");
  int rows = 0;
  for (std::string line; std::getline(predictions, line);) ++rows;
  int expected = 0;
  for (int64_t i = 3000; i < 3020; ++i) expected += labels.data[static_cast<std::size_t>(i)] >= 5;
  EXPECT_EQ(rows, expected);

  // The exported ONNX file (its first node scales 0-255 by 1/255) gives
  // predict's probabilities, when python3-onnx can say so.
  if (test::run_command("/usr/bin/python3 -c 'import onnx, numpy'").status != 0) {
    GTEST_SKIP() << "python3-onnx not installed: digits.onnx not checked";
  }
  std::vector<float> x;
  for (int64_t i = 3000; i < 3020; ++i) {
    if (labels.data[static_cast<std::size_t>(i)] < 5) continue;
    for (int p = 0; p < 784; ++p) x.push_back(images.data[static_cast<std::size_t>(i * 784 + p)]);
  }
  std::ofstream(dir / "x.npy", std::ios::binary) << npy_image_f32(x, expected, 784);
  const std::string in_dir = "cd " + test::quote(dir.path().string()) + " && ";
  ASSERT_EQ(test::run_command(in_dir + "'" + test::graft_executable() +
                              "' predict run/digits.ckpt --data x.npy --out p.npy").status, 0);
  const auto r = test::run_command(in_dir + "/usr/bin/python3 " + test::quote(std::string(GRAFT_SOURCE_DIR) +
                                   "/tests/cli/scripts/check_onnx.py") + " digits.onnx x.npy p.npy");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "ops Gemm,Mul,Relu,Softmax\n");
  const auto at = r.output.find("max_abs_diff ");
  ASSERT_NE(at, std::string::npos) << r.output;
  EXPECT_LT(std::stod(r.output.substr(at + 13)), 1e-5) << r.output;
}

}  // namespace
}  // namespace graft
