// docs/checkpoints.md, "TF2 SavedModel directories", run: the SavedModel it
// describes (a Keras Sequential Dense(300, relu) -> Dense(100, elu) ->
// Dense(10), built byte by byte: tests/common/saved_model_builder.h) and its
// data files in a scratch folder, then every `graft ...` command of the
// section's ```sh block in order, each of which must succeed; the model
// summary the page shows must be what `graft inspect` prints.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "host/data/npy.h"
#include "host/data/npz.h"
#include "tests/cli/cli_util.h"
#include "tests/common/expect_contains.h"
#include "tests/common/saved_model_builder.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

struct Section {
  std::vector<std::string> commands;  // ```sh lines starting with "graft "
  std::vector<std::string> blocks;    // the plain ``` blocks' text
};

Section read_section(const fs::path& doc, const std::string& heading) {
  std::ifstream in(doc);
  Section s;
  std::string line, block;
  bool inside = false, in_sh = false, in_plain = false;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) {
      inside = line == heading;
      continue;
    }
    if (!inside) continue;
    if (line.rfind("```", 0) == 0) {
      if (in_sh || in_plain) {
        if (in_plain) s.blocks.push_back(block);
        in_sh = in_plain = false;
      } else {
        in_sh = line == "```sh";
        in_plain = line == "```";
        block.clear();
      }
      continue;
    }
    if (in_sh && line.rfind("graft ", 0) == 0) s.commands.push_back(line);
    if (in_plain) block += line + "\n";
  }
  return s;
}

TEST(CliDocsSavedModel, TheSavedModelSectionRuns) {
  const Section doc = read_section(fs::path(GRAFT_SOURCE_DIR) / "docs" / "checkpoints.md",
                                   "## TF2 SavedModel directories");
  ASSERT_EQ(doc.commands.size(), 5u) << "docs/checkpoints.md's SavedModel commands changed";
  test::TempDir dir;
  test::write_saved_model(dir / "mnist_savedmodel",
                          {test::keras_dense("dense", 784, 300, "relu", 1), test::keras_dense("dense_1", 300, 100, "elu", 3),
                           test::keras_dense("dense_2", 100, 10, "linear", 5)});
  const int64_t rows = 20;
  std::vector<float> x = test::wave(static_cast<std::size_t>(rows * 784), 8, 0.5f);
  for (float& v : x) v += 0.5f;
  std::vector<int32_t> y;
  for (int64_t r = 0; r < rows; ++r) y.push_back(static_cast<int32_t>(r % 10));
  std::ofstream(dir / "rows.npy", std::ios::binary) << npy_image_f32(x, rows, 784);
  std::ofstream(dir / "labels.npy", std::ios::binary) << npy_image_i32(y);
  write_npz((dir / "rows.npz").string(), {{"x_train", npy_image_f32(x, rows, 784)}, {"y_train", npy_image_i32(y)}});

  std::string inspect;
  for (const std::string& command : doc.commands) {
    const auto r = test::run_command("cd " + test::quote(dir.path().string()) + " && '" + test::graft_executable() +
                                     "' " + command.substr(6));
    EXPECT_EQ(r.status, 0) << command << "\n" << r.output;
    if (command == "graft inspect mnist_savedmodel") inspect = r.output;
  }
  // The summary block the page shows (the one starting "model: read from").
  bool shown = false;
  for (const std::string& block : doc.blocks) {
    if (block.rfind("model: read from", 0) != 0) continue;
    shown = true;
    EXPECT_CONTAINS(inspect, block);
  }
  EXPECT_TRUE(shown) << "the page no longer shows inspect's model summary";
  EXPECT_TRUE(fs::exists(dir / "mnist.onnx"));
  EXPECT_TRUE(fs::exists(dir / "run" / "model.ckpt.index"));
}

}  // namespace
}  // namespace graft
