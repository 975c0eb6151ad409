// `graft train` end to end: the Fashion-MNIST target accuracy and a reload
// through `graft eval`; the saved checkpoint's TF names; resuming the
// TF-written Adam fixture; flag errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/names.h"
#include "host/data/dataset.h"
#include "tests/cli/cli_util.h"
#include "tests/common/fixtures.h"
#include "tests/common/expect_contains.h"
#include "tests/common/synthetic_data.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

using test::graft;
using test::quote;

// The numbers after `label` on each epoch line.
std::vector<std::string> column(const std::string& out, const std::string& label) {
  std::vector<std::string> values;
  const std::regex re(label + " ([0-9.]+)");
  for (auto it = std::sregex_iterator(out.begin(), out.end(), re); it != std::sregex_iterator(); ++it) {
    values.push_back((*it)[1]);
  }
  return values;
}

// A data folder whose training files are MNIST t10k too (the fixtures hold
// only the test set).
fs::path mnist_as_training_data(const test::TempDir& dir) {
  return test::mnist_as_training_data(*test::fixture("mnist"), dir);
}

TEST(CliTrain, FashionMnistReachesTargetAndReloads) {
  if (!fs::exists(std::string(kDefaultDataDir) + "/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST not installed at " << kDefaultDataDir;
  }
  test::TempDir dir;
  const std::string prefix = (dir / "fashion/model.ckpt").string();
  const auto r = graft("train --hidden 300,50,50,50,50 --outputs 10 --activation relu --optimizer sgd --lr 0.01 "
                       "--clip-value 1.0 --batch-size 50 --epochs 5 --device cpu --save " + quote(prefix));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "device: cpu");
  EXPECT_CONTAINS(r.output, "55000 train, 5000 validation, 10000 test");
  // Test accuracy is reported once, for the model the run keeps, never per epoch.
  const auto test_acc = column(r.output, "test acc");
  ASSERT_EQ(test_acc.size(), 1u) << r.output;
  EXPECT_CONTAINS(r.output, "test acc " + test_acc.back() + " (the model of the last epoch, 5)\n");
  EXPECT_EQ(column(r.output, "valid acc").size(), 5u);
  EXPECT_EQ(column(r.output, "loss").size(), 5u);
  EXPECT_GE(std::stod(test_acc.back()), 0.83) << r.output;
  EXPECT_EQ(r.output.find('\r'), std::string::npos);  // no progress bar when stdout is a pipe

  const auto e = test::graft_stdout("eval " + quote(prefix) + " --device cpu");
  ASSERT_EQ(e.status, 0) << e.output;
  EXPECT_CONTAINS(e.output, "accuracy: " + test_acc.back() + "\n");
}

TEST(CliTrain, SavesTensorFlowNames) {
  if (!test::fixture("mnist")) GTEST_SKIP() << "fixture mnist not found";
  test::TempDir dir;
  const fs::path data = mnist_as_training_data(dir);
  const std::string prefix = (dir / "m.ckpt").string();
  const auto r = graft("train --hidden 20,10 --epochs 1 --optimizer momentum --per-class 30 --validation 500 "
                       "--device cpu --data " + quote(data.string()) + " --save " + quote(prefix));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "300 train, 500 validation, 10000 test");
  // The training images are t10k's own (this test's data folder links them): said.
  EXPECT_CONTAINS(r.output, "warning: 300 of 10000 test rows (3%) are also training rows: test accuracy measures "
                            "memorisation");
  EXPECT_CONTAINS(r.output, "saved " + prefix);
  const BundleReader reader = BundleReader::open(prefix);
  std::vector<std::string> keys;
  // Every tensor but graft's model description (metadata TF ignores) is a TF1 variable.
  for (const BundleEntry& e : reader.entries()) {
    if (e.info.name != kModelDescriptionKey) keys.push_back(e.info.name);
  }
  EXPECT_TRUE(reader.find(kModelDescriptionKey));
  EXPECT_EQ(keys, (std::vector<std::string>{"global_step", "hidden1/bias", "hidden1/bias/Momentum", "hidden1/kernel",
                                            "hidden1/kernel/Momentum", "hidden2/bias", "hidden2/bias/Momentum",
                                            "hidden2/kernel", "hidden2/kernel/Momentum", "outputs/bias",
                                            "outputs/bias/Momentum", "outputs/kernel", "outputs/kernel/Momentum"}));
  EXPECT_EQ(reader.find("hidden1/kernel")->info.shape, (Shape{784, 20}));
  EXPECT_TRUE(fs::exists(dir / "checkpoint"));
}

TEST(CliTrain, ResumesTheAdamFixtureAndLowersTheLoss) {
  auto fixture = test::fixture("tf1/adam_digits_0_to_4/ch11-exercise_model_0_to_4.ckpt.index");
  if (!fixture || !test::fixture("mnist")) GTEST_SKIP() << "fixtures not found";
  const std::string source = fixture->string().substr(0, fixture->string().size() - 6);
  test::TempDir dir;
  const fs::path data = mnist_as_training_data(dir);
  const std::string common = " --activation elu --classes 0-4 --device cpu --data " + quote(data.string());
  const auto before = test::graft_stdout("eval " + quote(source) + common);
  ASSERT_EQ(before.status, 0) << before.output;

  const std::string prefix = (dir / "resumed").string();
  const auto r = graft("train --resume " + quote(source) +
                       " --hidden 100,100,100,100,100 --outputs 5 --optimizer adam --lr 0.001 --epochs 1 "
                       "--validation 1000 --save " + quote(prefix) + common);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "resumed at step 0; not in the checkpoint, left at initial values: global_step\n");
  const auto after = test::graft_stdout("eval " + quote(prefix) + common);
  ASSERT_EQ(after.status, 0) << after.output;
  const double loss_before = std::stod(column(before.output, "loss:").at(0));
  const double loss_after = std::stod(column(after.output, "loss:").at(0));
  EXPECT_LT(loss_after, loss_before) << before.output << after.output;

  // A model that does not match the checkpoint is refused, naming both: the
  // checkpoint's .meta graph defines its network.
  const auto wrong = graft("train --resume " + quote(source) + " --hidden 100,100 --outputs 5 --epochs 1" + common);
  EXPECT_EQ(wrong.status, 1);
  EXPECT_CONTAINS(wrong.output, "graft train: error: ");
  EXPECT_CONTAINS(wrong.output, "--hidden 100,100 contradicts the graph " + source +
                                    ".meta (hidden 100,100,100,100,100)");
}

TEST(CliTrain, FlagErrors) {
  struct Case {
    std::string args, message;
  };
  for (const Case& c : {Case{"--optimizer adamw", "graft train: error: unknown optimizer 'adamw'"},
                        Case{"--data /nonexistent", "graft train: error: data folder /nonexistent does not exist"},
                        Case{"--initializer orthogonal", "unknown initializer 'orthogonal'"},
                        Case{"--classes 3-1", "--classes '3-1': range 3-1 is empty"}}) {
    const auto r = graft("train --device cpu " + c.args);
    EXPECT_EQ(r.status, 1) << c.args;
    EXPECT_CONTAINS(r.output, c.message);
    EXPECT_EQ(test::line_count(r.output), 1) << r.output;
  }
  const auto both = graft("train --clip-value 1 --clip-norm 1");
  EXPECT_NE(both.status, 0);
  EXPECT_CONTAINS(both.output, "excludes");
}

}  // namespace
}  // namespace graft

namespace graft {
namespace {

// The GRAFT_CUDA_* settings are flags too; bad values are one-line errors,
// and on the CPU they change nothing.
TEST(CliTrain, CudaFlagsAreCheckedAndHarmlessOnTheCpu) {
  test::TempDir dir;
  const fs::path data = test::banded_data_dir(dir.path(), 120, 40);
  const std::string base = "train --hidden 8 --epochs 1 --validation 20 --device cpu --threads 1 --data " +
                           quote(data.string()) + " ";
  const auto plain = graft(base);
  const auto flagged = graft(base + "--cuda-graphs off --cuda-fused --cuda-fused-schedule per-layer --cuda-fused-blocks 4 "
                               "--cuda-batch-norm fused");
  ASSERT_EQ(plain.status, 0) << plain.output;
  ASSERT_EQ(flagged.status, 0) << flagged.output;
  EXPECT_EQ(column(flagged.output, "test acc"), column(plain.output, "test acc"));
  for (const char* bad : {"--cuda-graphs maybe", "--cuda-fused-blocks 0", "--cuda-fused-schedule fast",
                          "--cuda-batch-norm cuda"}) {
    const auto r = graft(base + bad);
    EXPECT_EQ(r.status, 1) << bad << "\n" << r.output;
    EXPECT_CONTAINS(r.output, std::string(bad).substr(0, std::string(bad).find(' ')));
  }
}

}  // namespace
}  // namespace graft
