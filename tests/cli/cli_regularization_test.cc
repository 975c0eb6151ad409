// L1/L2 and max-norm end to end (issue 17): after a --max-norm run every
// kernel row (axis 1) or column (axis 0) of the saved checkpoint has norm
// <= r, checked here from the checkpoint's bytes; the regularizers are
// recorded (inspect shows them, --resume continues them, a contradicting
// flag names both values); bad values are one-line errors naming the flag.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "tests/cli/cli_util.h"
#include "tests/common/expect_contains.h"
#include "tests/common/fixtures.h"
#include "tests/common/synthetic_data.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

using test::graft;
using test::quote;

// The largest row (axis 1) or column (axis 0) norm of every 2-D float tensor
// named */kernel in the checkpoint, with how many kernels there were.
double largest_norm(const std::string& prefix, int axis, int* kernels) {
  const BundleReader reader = BundleReader::open(prefix);
  double worst = 0.0;
  *kernels = 0;
  for (const BundleEntry& e : reader.entries()) {
    const std::string& name = e.info.name;
    if (name.size() < 7 || name.compare(name.size() - 7, 7, "/kernel") != 0 || e.info.shape.size() != 2) continue;
    ++*kernels;
    const std::vector<float> w = reader.read_float(e);
    const int64_t rows = e.info.shape[0], cols = e.info.shape[1];
    std::vector<double> sums(static_cast<std::size_t>(axis == 1 ? rows : cols), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        sums[static_cast<std::size_t>(axis == 1 ? r : c)] += double{w[r * cols + c]} * w[r * cols + c];
      }
    }
    for (double s : sums) worst = std::max(worst, std::sqrt(s));
  }
  return worst;
}

TEST(RegularizationCli, MaxNormBoundsEverySavedKernelRowOrColumn) {
  test::TempDir dir;
  const fs::path data = test::banded_data_dir(dir.path(), 400, 100);
  for (int axis : {1, 0}) {
    const std::string prefix = (dir / ("axis" + std::to_string(axis)) / "model.ckpt").string();
    const auto r = graft("train --hidden 16,8 --epochs 2 --lr 0.5 --validation 40 --device cpu --threads 1 --data " +
                         quote(data.string()) + " --max-norm 0.5,axis=" + std::to_string(axis) + " --save " +
                         quote(prefix));
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_CONTAINS(r.output, "max-norm 0.5,axis=" + std::to_string(axis));
    int kernels = 0;
    const double worst = largest_norm(prefix, axis, &kernels);
    EXPECT_EQ(kernels, 3);
    // (t * r) / norm rounds each element once: a norm of r within a few float ulps.
    EXPECT_LE(worst, 0.5 * (1 + 1e-6)) << "axis " << axis;
    EXPECT_GT(worst, 0.5 * (1 - 1e-5)) << "the clip was active (glorot rows of 784 inputs start above 0.5)";
  }
}

// Max-norm beside batch norm and dropout: only the dense kernels are
// clipped (a batch norm's gamma is not a kernel), and the run saves.
TEST(RegularizationCli, MaxNormWithBatchNormAndDropoutClipsTheDenseKernels) {
  test::TempDir dir;
  const fs::path data = test::banded_data_dir(dir.path(), 400, 100);
  const std::string prefix = (dir / "bn" / "model.ckpt").string();
  const auto r = graft("train --hidden 16,8 --epochs 2 --lr 0.5 --validation 40 --device cpu --threads 1 --data " +
                       quote(data.string()) + " --batch-norm before --dropout 0.2 --l2 0.001 --max-norm 0.5 --save " +
                       quote(prefix));
  ASSERT_EQ(r.status, 0) << r.output;
  int kernels = 0;
  EXPECT_LE(largest_norm(prefix, 1, &kernels), 0.5 * (1 + 1e-6));
  EXPECT_EQ(kernels, 3);
}

TEST(RegularizationCli, RecordedContinuedByResumeAndContradictionsNameBothValues) {
  test::TempDir dir;
  const fs::path data = test::banded_data_dir(dir.path(), 400, 100);
  const std::string prefix = (dir / "run/model.ckpt").string();
  const std::string common = " --validation 40 --device cpu --threads 1 --data " + quote(data.string());
  const auto r = graft("train --hidden 16 --epochs 1" + common + " --l2 0.001 --l1 hidden1=0.0001 --save " +
                       quote(prefix));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "l1 hidden1=0.0001 (kernels), l2 0.001 (kernels)");
  const auto inspect = graft("inspect " + quote(prefix));
  EXPECT_CONTAINS(inspect.output, "regularization: l1 hidden1=0.0001 (kernels), l2 0.001 (kernels)");

  const auto resume = graft("train --resume " + quote(prefix) + " --epochs 1" + common);
  ASSERT_EQ(resume.status, 0) << resume.output;
  EXPECT_CONTAINS(resume.output, "l2 0.001 (kernels)");

  const auto other = graft("train --resume " + quote(prefix) + " --epochs 1" + common + " --l2 0.002");
  EXPECT_NE(other.status, 0);
  EXPECT_CONTAINS(other.output, "--l2 0.002 contradicts the model recorded in");
  EXPECT_CONTAINS(other.output, "(l2 0.001)");
  EXPECT_CONTAINS(other.output, "--override");
  EXPECT_EQ(test::line_count(other.output), 1) << other.output;

  const auto overridden =
      graft("train --resume " + quote(prefix) + " --epochs 1" + common + " --l2 0.002 --override");
  ASSERT_EQ(overridden.status, 0) << overridden.output;
  EXPECT_CONTAINS(overridden.output, "override: l2 0.002 instead of the recorded 0.001");
}

TEST(RegularizationCli, BadValuesAreOneLineErrorsNamingTheFlag) {
  test::TempDir dir;
  const fs::path data = test::banded_data_dir(dir.path(), 100, 20);
  const std::pair<const char*, const char*> cases[] = {
      {"--l2=-1", "negative"},
      {"--l1 abc", "'abc' is not a number"},
      {"--max-norm 0", "must be > 0"},
      {"--max-norm 1,axis=2", "the axis is 0 (columns) or 1 (rows)"},
      {"--l2 hidden9=0.1", "--l2 names no layer 'hidden9'"},
      {"--regularize-biases", "--regularize-biases needs --l1 or --l2"},
  };
  for (const auto& [args, message] : cases) {
    const auto r = graft(std::string("train --hidden 8 --epochs 1 --validation 20 --device cpu --data ") +
                         quote(data.string()) + " " + args);
    EXPECT_NE(r.status, 0) << args;
    // The error is the last line (errors found once the layers are known
    // come after the data report), and one line.
    std::string out = r.output;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    EXPECT_CONTAINS(out.substr(out.rfind('\n') + 1), message) << r.output;
  }
  const auto help = graft("train --help");
  EXPECT_CONTAINS(help.output, "Keras l2(λ) = --l2 2λ");
  EXPECT_CONTAINS(help.output, "axis=1 (default, the book's) limits each input unit's row");
}

}  // namespace
}  // namespace graft
