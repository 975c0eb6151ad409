// docs/transfer-learning.md, "The book's exercise", run: every `graft ...`
// command of the ```sh blocks between its exercise markers, in order, in a
// folder whose mnist/ holds the first 8000 MNIST t10k images as the training
// set and the last 2000 as the test set (the page says so).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "host/data/idx.h"
#include "tests/cli/cli_util.h"
#include "tests/common/expect_contains.h"
#include "tests/common/fixtures.h"
#include "tests/common/synthetic_data.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

// The commands of the ```sh blocks between <!-- exercise: begin --> and
// <!-- exercise: end -->, continued over trailing backslashes.
std::vector<std::string> exercise_commands(const fs::path& doc) {
  std::ifstream in(doc);
  std::vector<std::string> out;
  std::string line, command;
  bool inside = false, in_sh = false;
  while (std::getline(in, line)) {
    if (line == "<!-- exercise: begin -->") inside = true;
    if (line == "<!-- exercise: end -->") inside = false;
    if (!inside) continue;
    if (line.rfind("```", 0) == 0) {
      in_sh = !in_sh && line == "```sh";
      continue;
    }
    if (!in_sh || (command.empty() && line.rfind("graft ", 0) != 0)) continue;
    const bool more = !line.empty() && line.back() == '\\';
    command += more ? line.substr(0, line.size() - 1) : line;
    if (!more) {
      out.push_back(command);
      command.clear();
    }
  }
  return out;
}

// Rows [begin, end) of t10k as an IDX pair STEM-images/labels in `dir`.
void write_rows(const IdxArray& images, const IdxArray& labels, uint32_t begin, uint32_t end, const fs::path& dir,
                const std::string& stem) {
  const std::vector<uint8_t> pixels(images.data.begin() + begin * 784, images.data.begin() + end * 784);
  const std::vector<uint8_t> digits(labels.data.begin() + begin, labels.data.begin() + end);
  test::write_idx(dir / (stem + "-images-idx3-ubyte"), {end - begin, 28, 28}, pixels);
  test::write_idx(dir / (stem + "-labels-idx1-ubyte"), {end - begin}, digits);
}

TEST(DocsExercise, EveryCommandOfTheBooksExerciseRuns) {
  GRAFT_REQUIRE_FIXTURE(mnist, "mnist");
  const std::vector<std::string> commands =
      exercise_commands(fs::path(GRAFT_SOURCE_DIR) / "docs" / "transfer-learning.md");
  ASSERT_EQ(commands.size(), 9u);  // the source, four transfers, four evals
  test::TempDir dir;
  const IdxArray images = read_idx_u8((mnist / "t10k-images-idx3-ubyte.gz").string(), 3);
  const IdxArray labels = read_idx_u8((mnist / "t10k-labels-idx1-ubyte.gz").string(), 1);
  fs::create_directory(dir / "mnist");
  write_rows(images, labels, 0, 8000, dir / "mnist", "train");
  write_rows(images, labels, 8000, 10000, dir / "mnist", "t10k");

  std::vector<std::string> outputs;
  for (const std::string& c : commands) {
    SCOPED_TRACE(c);
    const auto r = test::run_command("cd " + test::quote(dir.path().string()) + " && '" + test::graft_executable() +
                                     "' " + c.substr(6) + " --device cpu");
    ASSERT_EQ(r.status, 0) << r.output;
    outputs.push_back(r.output);
  }
  // The source network: ELU, TF1's He initialization, early stopping on 0-4.
  EXPECT_CONTAINS(outputs[0], "3103 train, 1000 validation, 1036 test; 784 features; 5 classes");
  EXPECT_CONTAINS(outputs[0], "model: 784-100-100-100-100-100-5 (elu), adam");
  EXPECT_CONTAINS(outputs[0], "early stopping: no better validation loss for 10 epochs");
  // The frozen runs train the head from the cache; the partly frozen one above hidden2's.
  EXPECT_CONTAINS(outputs[1], "frozen-layer cache: hidden1..hidden5 are frozen");
  EXPECT_CONTAINS(outputs[2], "frozen-layer cache: hidden1..hidden4 are frozen");
  EXPECT_CONTAINS(outputs[3], "frozen-layer cache: hidden1..hidden2 are frozen");
  EXPECT_CONTAINS(outputs[1], "10 of 12 model variables restored from runs/digits_0_to_4/model.ckpt");
  EXPECT_CONTAINS(outputs[2], "8 of 10 model variables restored");
  // Every transfer stops early (none runs out of its budget), and each eval
  // with no flags reproduces the test accuracy its training reported.
  const std::regex best("best epoch [0-9]+: valid acc [0-9.]+, test acc ([0-9.]+)");
  for (int run = 1; run <= 4; ++run) {
    SCOPED_TRACE(commands[static_cast<std::size_t>(run)]);
    EXPECT_CONTAINS(outputs[static_cast<std::size_t>(run)], "early stopping: no better validation loss for 20 epochs");
    EXPECT_CONTAINS(outputs[static_cast<std::size_t>(run)], "964 test; 784 features; 5 classes");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(outputs[static_cast<std::size_t>(run)], m, best))
        << outputs[static_cast<std::size_t>(run)];
    EXPECT_CONTAINS(outputs[static_cast<std::size_t>(run + 4)], "accuracy: " + m[1].str() + "\n");
  }
}

}  // namespace
}  // namespace graft
