// graft train with --batch-norm and --dropout end to end: the model
// description records both (inspect shows them), eval and --resume need no
// flags, eval of the saved checkpoint gives the training run's test
// accuracy, predict runs on the device it is given (cpu: the reference), a
// resume flag that contradicts the record is refused, and --device cuda runs batch norm wherever there is a GPU (a build without the
// CUDA backend, or without a device, says so).
#include <gtest/gtest.h>

#include <string>

#include "tests/cli/cli_util.h"
#include "tests/common/expect_contains.h"
#include "tests/common/fixtures.h"
#include "tests/common/synthetic_data.h"

namespace graft {
namespace {

using test::graft;
using test::graft_stdout;
using test::quote;

TEST(CliBatchNorm, TrainSaveInspectEvalResume) {
  test::TempDir dir;
  const auto data = test::banded_data_dir(dir.path(), 400, 200);
  const std::string prefix = (dir / "run/model.ckpt").string();
  const std::string common = " --validation 40 --device cpu --threads 1 --data " + quote(data.string());
  const auto t = graft("train --hidden 16,8 --epochs 2 --optimizer adam --lr 0.01 --batch-norm "
                       "after,momentum=0.9,epsilon=1e-3 --dropout 0.25,0" + common + " --save " + quote(prefix));
  ASSERT_EQ(t.status, 0) << t.output;
  EXPECT_CONTAINS(t.output, "model: 784-16-8-");
  EXPECT_CONTAINS(t.output, "+ batch norm + dropout");

  const auto inspect = graft("inspect " + quote(prefix));
  ASSERT_EQ(inspect.status, 0) << inspect.output;
  EXPECT_CONTAINS(inspect.output, "hidden1/batch_normalization/moving_variance");
  EXPECT_CONTAINS(inspect.output, "hidden1/batch_normalization: batch norm after the activation, momentum 0.9, "
                                  "epsilon 0.001");
  EXPECT_CONTAINS(inspect.output, "hidden1/dropout: dropout rate 0.25 in training");
  EXPECT_EQ(inspect.output.find("hidden2/dropout"), std::string::npos) << inspect.output;  // rate 0: none

  // eval with no flags gives the final epoch's test accuracy.
  const auto eval = graft("eval " + quote(prefix) + " --data " + quote(data.string()) + " --device cpu");
  ASSERT_EQ(eval.status, 0) << eval.output;
  const std::string line = t.output.substr(t.output.rfind("epoch   2"));
  const std::string test_acc = line.substr(line.find("test acc ") + 9, 6);
  EXPECT_CONTAINS(eval.output, "accuracy: " + test_acc);

  // predict: --device cpu (the default) is the reference path; --device cuda
  // runs the rows on the GPU or says why it cannot; auto without a GPU is the
  // CPU's path, the same bytes.
  const std::string pred = "predict " + quote(prefix) + " --data " + quote(data.string());
  const auto on_cpu = graft_stdout(pred);
  ASSERT_EQ(on_cpu.status, 0) << on_cpu.output;
  EXPECT_EQ(graft_stdout(pred + " --device cpu").output, on_cpu.output);
  const auto on_auto = graft(pred + " --device auto --out " + quote((dir / "auto.csv").string()));
  ASSERT_EQ(on_auto.status, 0) << on_auto.output;
  const auto on_cuda = graft(pred + " --device cuda");
  if (on_auto.output.find("device: auto -> cpu") != std::string::npos) {
    EXPECT_EQ(graft_stdout(pred + " --device auto").output, on_cpu.output);
    EXPECT_EQ(on_cuda.status, 1);
    EXPECT_CONTAINS(on_cuda.output, "graft predict: error: --device cuda: ");
  } else {
    EXPECT_CONTAINS(on_auto.output, "device: auto -> cuda");
    EXPECT_EQ(on_cuda.status, 0) << on_cuda.output;
  }
  EXPECT_EQ(graft(pred + " --device tpu").status, 1);

  const auto resume = graft("train --epochs 1" + common + " --resume " + quote(prefix) + " --save " +
                            quote((dir / "run2/model.ckpt").string()));
  ASSERT_EQ(resume.status, 0) << resume.output;
  EXPECT_CONTAINS(resume.output, "resuming the model recorded in");
  EXPECT_CONTAINS(resume.output, "+ batch norm + dropout");
  const auto contradict = graft("train --epochs 1 --dropout 0.5" + common + " --resume " + quote(prefix));
  EXPECT_EQ(contradict.status, 1);
  EXPECT_CONTAINS(contradict.output, "--dropout contradicts the model recorded in");

  const auto bad = graft("train --epochs 1 --batch-norm sideways" + common);
  EXPECT_EQ(bad.status, 1);
  EXPECT_CONTAINS(bad.output, "--batch-norm 'sideways': 'sideways' is not before, after");
  const auto cuda = graft("train --epochs 1 --batch-norm before --dropout 0.25 --data " + quote(data.string()) +
                          " --validation 40 --device cuda");
  // The CUDA backend runs batch norm and dropout nodes: the old one-line
  // refusal ("does not run batch_norm nodes yet") is gone. A build without
  // the backend (the ASan stage's CPU-only build) refuses --device cuda; a
  // build with it but no GPU says there is no device; with a GPU it trains.
  EXPECT_EQ(cuda.output.find("does not run"), std::string::npos) << cuda.output;
  if (cuda.output.find("built without the CUDA backend") != std::string::npos) {
    EXPECT_EQ(cuda.status, 1);
    EXPECT_CONTAINS(cuda.output, "graft train: error: --device cuda: graft was built without the CUDA backend");
  } else if (cuda.output.find("no usable CUDA device") != std::string::npos) {
    EXPECT_EQ(cuda.status, 1);
    EXPECT_CONTAINS(cuda.output, "graft train: error: --device cuda: no usable CUDA device");
  } else {
    EXPECT_EQ(cuda.status, 0) << cuda.output;
    EXPECT_CONTAINS(cuda.output, "+ batch norm + dropout");
  }
}

}  // namespace
}  // namespace graft
