// The C++ example of docs/transfer-learning.md (docs/examples/
// transfer_learning.cpp), built by CMake and run here on the real
// TensorFlow checkpoint: it restores hidden1-3, trains, and saves them back
// bitwise unchanged.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "checkpoint/bundle_reader.h"
#include "tests/cli/cli_util.h"
#include "tests/common/fixtures.h"
#include "tests/common/expect_contains.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

TEST(DocsExample, TransferLearningRunsOnTheTensorFlowCheckpoint) {
  const fs::path example = fs::path(GRAFT_BINARY_DIR) / "docs" / "examples" / "transfer_learning";
  if (!fs::exists(example)) GTEST_SKIP() << example << " not built (GRAFT_BUILD_EXAMPLES=OFF)";
  GRAFT_REQUIRE_FIXTURE(seed, "tf1/seed_original");
  GRAFT_REQUIRE_FIXTURE(mnist, "mnist");
  test::TempDir dir;
  // MNIST t10k doubles as the training files (the fixtures hold only t10k).
  const fs::path data = test::mnist_as_training_data(mnist, dir);
  const std::string ckpt = (seed / "my_model_final.ckpt").string();
  const std::string out = (dir / "new/model.ckpt").string();
  const auto r = test::run_command(test::quote(example.string()) + " " + test::quote(ckpt) + " " +
                                   test::quote(data.string()) + " " + test::quote(out));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "hidden1/kernel  [784, 300]   restored from hidden1/kernel [frozen]");
  EXPECT_CONTAINS(r.output, "6 of 10 model variables restored");
  EXPECT_CONTAINS(r.output, "hidden3's output is computed once and cached");
  EXPECT_CONTAINS(r.output, "epoch 20  loss");
  EXPECT_CONTAINS(r.output, "saved " + out);
  const BundleReader source = BundleReader::open(ckpt), saved = BundleReader::open(out);
  EXPECT_EQ(saved.read_float(*saved.find("hidden2/kernel")), source.read_float(*source.find("hidden2/kernel")));
  EXPECT_TRUE(saved.find("hidden4/kernel"));
  EXPECT_EQ(test::run_command(test::quote(example.string())).status, 2);  // usage
}

}  // namespace
}  // namespace graft
