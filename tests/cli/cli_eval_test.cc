// `graft eval` end to end: the TF fixtures reproduce TensorFlow's accuracies
// on MNIST t10k; JSON output; errors as one line with exit code 1.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <utility>

#include "tests/cli/cli_util.h"
#include "tests/common/fixtures.h"
#include "tests/common/expect_contains.h"

namespace graft {
namespace {

using test::graft;
using test::quote;

using test::accuracy_in;
using test::prefix_of;

struct EvalCase {
  const char* name;  // the gtest/ctest name suffix
  const char* prefix;
  const char* flags;
  double accuracy;  // TensorFlow's, on MNIST t10k
};

// What gtest and ctest print for a case (instead of its bytes).
void PrintTo(const EvalCase& c, std::ostream* os) { *os << c.prefix << " " << c.flags; }

class CliEvalFixtures : public ::testing::TestWithParam<EvalCase> {};

TEST_P(CliEvalFixtures, ReproducesTensorFlowAccuracy) {
  const EvalCase c = GetParam();
  const std::string prefix = prefix_of(c.prefix);
  auto mnist = test::fixture("mnist");
  if (prefix.empty() || !mnist) GTEST_SKIP() << "fixture " << c.prefix << " or mnist not found";
  const auto r = test::graft_stdout("eval " + quote(prefix) + " --data " + quote(mnist->string()) + " --device cpu " +
                                    c.flags);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(test::line_count(r.output), 2) << r.output;  // accuracy and loss only
  EXPECT_CONTAINS(r.output, "loss: ");
  EXPECT_NEAR(accuracy_in(r.output), c.accuracy, 0.001) << r.output;
}

INSTANTIATE_TEST_SUITE_P(
    Tf1, CliEvalFixtures,
    ::testing::Values(EvalCase{"SeedOriginal", "tf1/seed_original/my_model_final.ckpt", "", 0.9619},
                      EvalCase{"SeedNew", "tf1/seed_new/my_new_model_final.ckpt", "", 0.9674},
                      EvalCase{"AdamDigits0To4", "tf1/adam_digits_0_to_4/ch11-exercise_model_0_to_4.ckpt",
                               "--activation elu --classes 0-4", 0.9840},
                      EvalCase{"ScopedNames", "tf1/scoped_names/my_model_final.ckpt",
                               "--rename '^dnn/(.*)/kernal$=$1/kernel' --rename '^dnn/(.*)$=$1'", 0.9459}),
    [](const ::testing::TestParamInfo<EvalCase>& info) { return std::string(info.param.name); });

// The model's summary (as the record or the graph describes it) heads the
// result, on stderr; stdout stays the two result lines.
TEST(CliEval, ModelSummaryHeadsTheResult) {
  const std::string prefix = prefix_of("tf1/seed_original/my_model_final.ckpt");
  auto mnist = test::fixture("mnist");
  if (prefix.empty() || !mnist) GTEST_SKIP() << "fixtures not found";
  const auto r = graft("eval " + quote(prefix) + " --data " + quote(mnist->string()) + " --device cpu");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto table = r.output.find("  layer    kind    output  activation");
  ASSERT_NE(table, std::string::npos) << r.output;
  EXPECT_CONTAINS(r.output, "  hidden5  dense       50  relu");
  EXPECT_LT(table, r.output.find("accuracy: ")) << r.output;
}

TEST(CliEval, JsonAndExplicitLayers) {
  const std::string prefix = prefix_of("tf1/seed_original/my_model_final.ckpt");
  auto mnist = test::fixture("mnist");
  if (prefix.empty() || !mnist) GTEST_SKIP() << "fixtures not found";
  const auto r = test::graft_stdout("eval " + quote(prefix) + " --data " + quote(mnist->string()) +
                                    " --device cpu --json --layers hidden1,hidden2,hidden3,hidden4,hidden5,outputs");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_NEAR(j["accuracy"].get<double>(), 0.9619, 0.001);
  EXPECT_EQ(j["samples"].get<int>(), 10000);
  EXPECT_EQ(j["layers"].size(), 6u);
  EXPECT_EQ(j["layers"][5]["name"], "outputs");
  EXPECT_EQ(j["layers"][0]["shape"], nlohmann::json::array({784, 300}));
}

TEST(CliEval, ErrorsAreOneLine) {
  const std::string seed = prefix_of("tf1/seed_original/my_model_final.ckpt");
  const std::string adam = prefix_of("tf1/adam_digits_0_to_4/ch11-exercise_model_0_to_4.ckpt");
  const std::string conv = prefix_of("tf1/conv_adam/my_mnist_model");
  auto scoped = test::fixture("tf1/scoped_names");
  auto mnist = test::fixture("mnist");
  if (seed.empty() || adam.empty() || conv.empty() || !scoped || !mnist) GTEST_SKIP() << "fixtures not found";
  const std::string data = " --data " + quote(mnist->string()) + " --device cpu";
  struct Case {
    std::string args, message;
  };
  for (const Case& c : {
           Case{quote(seed) + data + " --layers hidden1,hidden3",
                "layer hidden3 takes 50 inputs (hidden3/kernel is [50, 50]) but hidden1 gives 300"},
           Case{quote(adam) + data, "the model has 5 outputs, the data 10 classes"},
           Case{quote(conv) + data, "the graph's network uses Conv2D (conv2/Conv2D)"},
           Case{quote(seed) + " --data /nonexistent", "data folder /nonexistent does not exist"},
           Case{quote(seed) + data + " --activation swish", "unknown activation 'swish'"},
           Case{quote(seed) + data + " --rename nothing", "is not REGEX=REPLACEMENT"},
       }) {
    const auto r = graft("eval " + c.args);
    EXPECT_EQ(r.status, 1) << c.args << "\n" << r.output;
    EXPECT_CONTAINS(r.output, "graft eval: error: " );
    EXPECT_CONTAINS(r.output, c.message);
  }
}

// The batch-norm network of the fixtures evaluates to its independent numpy
// value (0.9130, inference mode) with no flags: from its graph (.meta), and
// from the variables alone when the graph is missing (batch norm attached to
// the dense layers in creation order, its placement and epsilon said as
// assumptions; the activation then needs --activation). Choosing the dense
// layers by name keeps the batch normalization (following the old hint
// dropped it and printed 0.8340).
TEST(CliEval, BatchNormNetworkWithAndWithoutItsGraph) {
  auto bn = test::fixture("tf1/batchnorm");
  auto mnist = test::fixture("mnist");
  if (!bn || !mnist) GTEST_SKIP() << "fixtures tf1/batchnorm and mnist not found";
  test::TempDir dir;
  for (const char* suffix : {".index", ".data-00000-of-00001"}) {
    std::filesystem::copy_file(*bn / ("my_model_final.ckpt" + std::string(suffix)),
                               dir / ("my_model_final.ckpt" + std::string(suffix)));
  }
  const std::string data = " --data " + quote(mnist->string()) + " --device cpu";
  for (const std::string layers : {"", " --layers hidden1,hidden2,hidden3,outputs"}) {
    const auto r = graft("eval " + quote(bn->string()) + data + layers);
    ASSERT_EQ(r.status, 0) << layers << "\n" << r.output;
    EXPECT_NEAR(accuracy_in(r.output), 0.9130, 0.0005) << r.output;
  }
  const auto from_graph = graft("eval " + quote(bn->string()) + data);
  EXPECT_CONTAINS(from_graph.output, "read: batch_normalization (dnn/batch_normalization/cond/Merge): batch norm "
                                     "before the activation (elu), epsilon 0.001 read from the graph, momentum 0.9");
  EXPECT_CONTAINS(from_graph.output, "read: dnn/dropout: dropout rate 0.5 read from the graph, off in evaluation");
  const std::string alone = quote((dir / "my_model_final.ckpt").string());
  const auto elu = graft("eval " + alone + data + " --activation elu");
  ASSERT_EQ(elu.status, 0) << elu.output;
  EXPECT_NEAR(accuracy_in(elu.output), 0.9130, 0.0005) << elu.output;
  EXPECT_CONTAINS(elu.output, "assumed: batch_normalization normalises hidden1's output before its activation, with "
                              "epsilon 0.001");
  EXPECT_CONTAINS(elu.output, "assumed: batch_normalization_3 normalises outputs's output (the logits)");
}

}  // namespace
}  // namespace graft
