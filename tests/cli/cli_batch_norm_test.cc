// graft train with --batch-norm and --dropout end to end: the model
// description records both (inspect shows them), eval and --resume need no
// flags, eval of the saved checkpoint gives the training run's test
// accuracy, predict runs on the device it is given (cpu: the reference), a
// resume flag that contradicts the record is refused, and --device cuda runs
// batch norm wherever there is a GPU (a build without the CUDA backend, or
// without a device, says so). Then the ONNX export of batch norm and dropout
// (BatchNormalization in inference mode, dropout left out), checked by
// Debian's python3-onnx and run by the numpy interpreter of
// tests/cli/scripts/check_onnx.py against graft predict: TensorFlow's own
// batch-norm fixture, and a graft model without gamma.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <string>

#include "host/data/idx.h"
#include "host/data/npy.h"
#include "host/data/npz.h"
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

// The python that has onnx and numpy, or "".
std::string onnx_python() {
  for (const char* p : {"/usr/bin/python3", "python3"}) {
    if (test::run_command(std::string(p) + " -c 'import onnx, numpy'").status == 0) return p;
  }
  return "";
}

// check_onnx.py's report on MODEL against FEATURES.npy and PREDICTED.npy;
// returns the max abs difference (prints it), fails the test when it cannot.
double check_onnx(const std::string& python, const std::string& onnx, const std::string& x, const std::string& p,
                  std::string& report) {
  const auto r = test::run_command(python + " " + quote(std::string(GRAFT_SOURCE_DIR) + "/tests/cli/scripts/check_onnx.py") +
                                   " " + quote(onnx) + " " + quote(x) + " " + quote(p));
  report = r.output;
  EXPECT_EQ(r.status, 0) << r.output;
  const auto at = r.output.find("max_abs_diff ");
  if (at == std::string::npos) {
    ADD_FAILURE() << r.output;
    return 1.0;
  }
  return std::stod(r.output.substr(at + 13));
}

// TensorFlow's batch-norm network (tf1/batchnorm: batch norm before ELU,
// dropout, batch norm on the logits) exported from its .meta graph.
TEST(CliBatchNorm, OnnxExportOfTheTensorFlowFixtureMatchesPredict) {
  const std::string bn = test::prefix_of("tf1/batchnorm/my_model_final.ckpt");
  const auto mnist = test::fixture("mnist");
  if (bn.empty() || !mnist) GTEST_SKIP() << "fixture tf1/batchnorm or mnist not found";
  test::TempDir dir;
  const std::string onnx = (dir / "bn.onnx").string(), x = (dir / "x.npy").string(), p = (dir / "p.npy").string();
  const std::string scale = " --input-scale 0.00392156862745098";  // raw pixels in, as the IDX files hold them
  auto r = graft("export " + quote(bn) + " --onnx " + quote(onnx) + scale);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "outputs \"probabilities\" and \"logits\" [N, 10]");
  const std::string python = onnx_python();
  if (python.empty()) GTEST_SKIP() << "python3-onnx or numpy not installed: the ONNX file is not checked";
  const IdxArray images = read_idx_u8((*mnist / "t10k-images-idx3-ubyte.gz").string(), 3);
  const int64_t rows = 500;
  std::vector<float> pixels(images.data.begin(), images.data.begin() + rows * 784);
  std::ofstream(x, std::ios::binary) << npy_image_f32(pixels, rows, 784);
  r = graft("predict " + quote(bn) + " --data " + quote(x) + scale + " --out " + quote(p));
  ASSERT_EQ(r.status, 0) << r.output;
  std::string report;
  const double diff = check_onnx(python, onnx, x, p, report);
  EXPECT_CONTAINS(report, "ops BatchNormalization,Elu,Gemm,Mul,Softmax\n");  // no dropout
  std::printf("ONNX graph of tf1/batchnorm (numpy, float64) vs graft predict, %lld MNIST rows: max abs difference %.3g\n",
              static_cast<long long>(rows), diff);
  EXPECT_LT(diff, 1e-5);
}

// A graft model with batch norm after the activation and without gamma
// (no-scale), and dropout: the exported graph gets ones for the scale.
TEST(CliBatchNorm, OnnxExportOfABatchNormWithoutGammaMatchesPredict) {
  test::TempDir dir;
  const int64_t rows = 300, cols = 6;
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0.0f, 0.6f);
  std::vector<float> xs;
  std::vector<int32_t> ys;
  for (int64_t r = 0; r < rows; ++r) {
    const int c = static_cast<int>(rng() % 3);
    for (int64_t k = 0; k < cols; ++k) xs.push_back((k == c ? 2.0f : 0.0f) + noise(rng));
    ys.push_back(c);
  }
  const std::string data = (dir / "d.npz").string(), x = (dir / "x.npy").string();
  write_npz(data, {{"x_train", npy_image_f32(xs, rows, cols)}, {"y_train", npy_image_i32(ys)}});
  std::ofstream(x, std::ios::binary) << npy_image_f32(xs, rows, cols);
  const std::string ckpt = (dir / "m" / "m.ckpt").string();
  auto r = graft("train --data " + quote(data) + " --hidden 8,8 --batch-norm after,no-scale,epsilon=0.01 "
                 "--dropout 0.2 --epochs 3 --lr 0.1 --device cpu --threads 1 --save " + quote(ckpt));
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string onnx = (dir / "m.onnx").string(), p = (dir / "p.npy").string();
  r = graft("export " + quote(ckpt) + " --onnx " + quote(onnx));
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string python = onnx_python();
  if (python.empty()) GTEST_SKIP() << "python3-onnx or numpy not installed: the ONNX file is not checked";
  r = graft("predict " + quote(ckpt) + " --data " + quote(x) + " --out " + quote(p));
  ASSERT_EQ(r.status, 0) << r.output;
  std::string report;
  const double diff = check_onnx(python, onnx, x, p, report);
  EXPECT_CONTAINS(report, "ops BatchNormalization,Gemm,Relu,Softmax\n");
  // The scale of each BatchNormalization is ones (no gamma), its epsilon the model's.
  const auto r2 = test::run_command(python + " -c " + quote("import onnx, numpy as np\n"
                                                           "from onnx import numpy_helper as h\n"
                                                           "m = onnx.load('" + onnx + "')\n"
                                                           "init = {t.name: h.to_array(t) for t in m.graph.initializer}\n"
                                                           "for n in m.graph.node:\n"
                                                           "  if n.op_type == 'BatchNormalization':\n"
                                                           "    print(n.input[1], bool((init[n.input[1]] == 1).all()), "
                                                           "round(n.attribute[0].f, 6))\n"));
  EXPECT_CONTAINS(r2.output, "hidden1/batch_normalization/gamma_ones True 0.01\n");
  EXPECT_CONTAINS(r2.output, "hidden2/batch_normalization/gamma_ones True 0.01\n");
  std::printf("ONNX graph of a batch norm without gamma (numpy, float64) vs graft predict: max abs difference %.3g\n",
              diff);
  EXPECT_LT(diff, 1e-5);
}

}  // namespace
}  // namespace graft
