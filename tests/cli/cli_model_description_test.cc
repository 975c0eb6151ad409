// The model description end to end: graft train saves it, graft inspect
// prints it, graft eval needs no flags (activation, classes, layer names
// come from it), graft train --resume takes the architecture and optimizer
// from it and refuses contradicting flags, graft extract carries it along.
// Also the eval of checkpoints that record nothing: it says what it assumed
// and never scores relabelled images against a wider head.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/names.h"
#include "tests/cli/cli_util.h"
#include "tests/common/expect_contains.h"
#include "tests/common/fixtures.h"
#include "tests/common/synthetic_data.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

using test::graft;
using test::quote;

// The last number after `label` in `out` ("test acc 0.8125" -> "0.8125").
std::string last_value(const std::string& out, const std::string& label) {
  const std::regex re(label + " ?([0-9.e-]+)");
  std::string last;
  for (auto it = std::sregex_iterator(out.begin(), out.end(), re); it != std::sregex_iterator(); ++it) last = (*it)[1];
  return last;
}

struct Trained {
  test::TempDir dir;
  fs::path data;
  std::string prefix;
  std::string output;
  int status = 0;
};

// Trains a 2-class head on classes 2 and 3 of the banded data set with the
// given activation and optimizer flags, and saves it.
void train_head(Trained& t, const std::string& activation, const std::string& extra = "--optimizer adam --lr 0.01") {
  t.data = test::banded_data_dir(t.dir.path(), 400, 200);
  t.prefix = (t.dir / "run/model.ckpt").string();
  const auto r = graft("train --hidden 16,8 --classes 2,3 --validation 40 --epochs 2 --device cpu --threads 1 "
                       "--activation " + activation + " " + extra + " --data " + quote(t.data.string()) +
                       " --save " + quote(t.prefix) + " --metrics " + quote((t.dir / "metrics.jsonl").string()));
  t.output = r.output;
  t.status = r.status;
}

class ModelDescriptionRoundTrip : public ::testing::TestWithParam<const char*> {};

// save -> inspect -> eval -> resume for every activation, with a class
// subset: eval with no flags scores the original labels 2 and 3 exactly as
// training reported, and a resume with no architecture flags continues it.
TEST_P(ModelDescriptionRoundTrip, SaveInspectEvalResume) {
  const std::string activation = GetParam();
  Trained t;
  train_head(t, activation);
  ASSERT_EQ(t.status, 0) << t.output;
  const std::string trained_test_acc = last_value(t.output, "test acc");
  ASSERT_FALSE(trained_test_acc.empty()) << t.output;

  const auto inspect = graft("inspect " + quote(t.prefix));
  ASSERT_EQ(inspect.status, 0) << inspect.output;
  EXPECT_CONTAINS(inspect.output, "model (graft)");
  EXPECT_CONTAINS(inspect.output, "original labels 2,3");
  EXPECT_TRUE(std::regex_search(inspect.output, std::regex("hidden1 +dense +16 +" + activation)))
      << inspect.output;
  EXPECT_CONTAINS(inspect.output, "optimizer: adam lr 0.01");

  const auto eval = graft("eval " + quote(t.prefix) + " --device cpu --data " + quote(t.data.string()));
  ASSERT_EQ(eval.status, 0) << eval.output;
  EXPECT_CONTAINS(eval.output, "as recorded in the checkpoint");
  EXPECT_CONTAINS(eval.output, "accuracy: " + trained_test_acc + "\n");
  EXPECT_EQ(eval.output.find("assumed"), std::string::npos) << eval.output;
  // The test loss, in full precision, is the one training measured: the same
  // activations, labels and weights (accuracy alone can saturate).
  const auto json = test::graft_stdout("eval " + quote(t.prefix) + " --json --device cpu --data " + quote(t.data.string()));
  ASSERT_EQ(json.status, 0) << json.output;
  std::ifstream metrics(t.dir / "metrics.jsonl");
  const std::string rows((std::istreambuf_iterator<char>(metrics)), std::istreambuf_iterator<char>());
  const std::string trained_loss = last_value(rows, "\"test_loss\":");
  const std::string eval_loss = last_value(json.output, "\"loss\":");
  ASSERT_FALSE(trained_loss.empty()) << rows;
  ASSERT_FALSE(eval_loss.empty()) << json.output;
  EXPECT_DOUBLE_EQ(std::stod(eval_loss), std::stod(trained_loss));

  const std::string resumed = (t.dir / "resumed/model.ckpt").string();
  const auto resume = graft("train --resume " + quote(t.prefix) + " --epochs 1 --validation 40 --device cpu "
                            "--threads 1 --data " + quote(t.data.string()) + " --save " + quote(resumed));
  ASSERT_EQ(resume.status, 0) << resume.output;
  EXPECT_CONTAINS(resume.output, "resuming the model recorded in " + t.prefix);
  EXPECT_CONTAINS(resume.output, "resumed 6 variables, 12 optimizer slots (Adam, Adam_1), global_step, beta1_power, "
                                 "beta2_power");
  EXPECT_CONTAINS(resume.output, "2 classes");  // the recorded classes 2,3, with no --classes given
  const auto again = graft("inspect " + quote(resumed));
  EXPECT_CONTAINS(again.output, "original labels 2,3");
  EXPECT_TRUE(std::regex_search(again.output, std::regex("hidden2 +dense +8 +" + activation))) << again.output;
}

INSTANTIATE_TEST_SUITE_P(EveryActivation, ModelDescriptionRoundTrip,
                         ::testing::Values("relu", "elu", "selu", "leaky_relu:0.1", "tanh", "sigmoid", "identity"),
                         [](const auto& info) {
                           std::string name = info.param;
                           return name.substr(0, name.find(':'));
                         });

TEST(ModelDescriptionCli, ContradictingFlagsAreErrorsNamingBothValues) {
  Trained t;
  train_head(t, "elu");
  ASSERT_EQ(t.status, 0) << t.output;
  const std::string resume = "train --resume " + quote(t.prefix) + " --epochs 1 --validation 40 --device cpu " +
                             "--data " + quote(t.data.string()) + " --save " + quote((t.dir / "x").string()) + " ";
  struct Case {
    const char* flags;
    const char* says;
  };
  for (const Case& c : {Case{"--optimizer sgd", "--optimizer sgd contradicts the model recorded in"},
                        Case{"--activation relu", "--activation relu contradicts"},
                        Case{"--hidden 100,100", "--hidden 100,100 contradicts"},
                        Case{"--classes 0-1", "--classes 0,1 contradicts"},
                        Case{"--lr 0.5", "--lr 0.5 contradicts"}}) {
    const auto r = graft(resume + c.flags);
    EXPECT_EQ(r.status, 1) << c.flags << "\n" << r.output;
    EXPECT_CONTAINS(r.output, c.says);
    EXPECT_FALSE(fs::exists(t.dir / "x.index")) << c.flags;
  }
  // Both values are named.
  const auto r = graft(resume + "--optimizer sgd");
  EXPECT_CONTAINS(r.output, "(optimizer adam)");
  const auto h = graft(resume + "--hidden 100,100");
  EXPECT_CONTAINS(h.output, "(hidden 16,8)");
  // Agreeing flags are fine, and --override applies an optimizer change, saying so.
  const auto same = graft(resume + "--activation elu --hidden 16,8 --classes 2,3");
  EXPECT_EQ(same.status, 0) << same.output;
  const auto lower = graft(resume + "--lr 0.001 --override");
  EXPECT_EQ(lower.status, 0) << lower.output;
  EXPECT_CONTAINS(lower.output, "override: learning_rate 0.001 instead of the recorded 0.01");
  // Eval: an activation that contradicts the record is refused too.
  const auto eval = graft("eval " + quote(t.prefix) + " --activation relu --device cpu --data " + quote(t.data.string()));
  EXPECT_EQ(eval.status, 1) << eval.output;
  EXPECT_CONTAINS(eval.output, "--activation relu contradicts the model recorded in");
  EXPECT_CONTAINS(eval.output, "uses elu");
}

TEST(ModelDescriptionCli, ChangingTheOptimizerNeverDropsSlotsSilently) {
  Trained t;
  train_head(t, "relu");
  ASSERT_EQ(t.status, 0) << t.output;
  const std::string resume = "train --resume " + quote(t.prefix) + " --epochs 1 --validation 40 --device cpu " +
                             "--data " + quote(t.data.string()) + " --save " + quote((t.dir / "sgd").string()) + " ";
  const auto refused = graft(resume + "--optimizer sgd");
  EXPECT_EQ(refused.status, 1) << refused.output;
  const auto dropped = graft(resume + "--optimizer sgd --override");
  ASSERT_EQ(dropped.status, 0) << dropped.output;
  EXPECT_CONTAINS(dropped.output, "override: optimizer sgd instead of the recorded adam");
  EXPECT_CONTAINS(dropped.output, "not used by this optimizer: 12 slots");
}

TEST(ModelDescriptionCli, EvalScoresASubsetOfTheRecordedClassesAndRefusesOthers) {
  Trained t;
  train_head(t, "relu");
  ASSERT_EQ(t.status, 0) << t.output;
  const std::string eval = "eval " + quote(t.prefix) + " --device cpu --data " + quote(t.data.string());
  const auto three = graft(eval + " --classes 3");
  ASSERT_EQ(three.status, 0) << three.output;
  EXPECT_CONTAINS(three.output, "scoring images of classes 3 only, predicted among all 2 outputs");
  const auto other = graft(eval + " --classes 0");
  EXPECT_EQ(other.status, 1) << other.output;
  EXPECT_CONTAINS(other.output, "class 0 is not one the model was trained on (its outputs stand for 2,3)");
}

TEST(ModelDescriptionCli, ExtractCarriesRewritesOrLeavesOutTheDescription) {
  Trained t;
  train_head(t, "tanh");
  ASSERT_EQ(t.status, 0) << t.output;
  const std::string copy = (t.dir / "copy/model.ckpt").string();
  ASSERT_EQ(graft("extract " + quote(t.prefix) + " " + quote(copy)).status, 0);
  EXPECT_CONTAINS(graft("inspect " + quote(copy)).output, "original labels 2,3");

  const std::string renamed = (t.dir / "renamed/model.ckpt").string();
  const auto r = graft("extract " + quote(t.prefix) + " " + quote(renamed) + " --rename '^(hidden|outputs)(.*)$=net/$1$2'");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "updated graft's model description to the renamed variables");
  const auto inspect = graft("inspect " + quote(renamed));
  EXPECT_TRUE(std::regex_search(inspect.output, std::regex("net/hidden1 +dense +16 +tanh"))) << inspect.output;
  const auto eval = graft("eval " + quote(renamed) + " --device cpu --data " + quote(t.data.string()));
  EXPECT_EQ(eval.status, 0) << eval.output;
  EXPECT_CONTAINS(eval.output, "accuracy: " + last_value(t.output, "test acc") + "\n");

  const std::string part = (t.dir / "part/model.ckpt").string();
  const auto p = graft("extract " + quote(t.prefix) + " " + quote(part) + " --select 'hidden1/.*'");
  ASSERT_EQ(p.status, 0) << p.output;
  EXPECT_CONTAINS(p.output, "left out graft's model description");
  EXPECT_EQ(BundleReader::open(part).find(kModelDescriptionKey), nullptr);
}

// TF-written checkpoints record nothing (their graph, PREFIX.meta, says the
// layers and activations: tests/cli/cli_graph_test.cc): eval says what it assumed, and with
// --classes scores each image against the output that stands for its class
// (here output i = digit i of a 10-output head), never relabelled 0..k-1.
TEST(ModelDescriptionCli, EvalOfUnrecordedCheckpointSaysWhatItAssumed) {
  auto seed = test::fixture("tf1/seed_original");
  auto mnist = test::fixture("mnist");
  if (!seed || !mnist) GTEST_SKIP() << "fixtures tf1/seed_original and mnist not found";
  const std::string ckpt = quote((*seed / "my_model_final.ckpt").string());
  const auto all = graft("eval " + ckpt + " --device cpu --data " + quote(mnist->string()));
  ASSERT_EQ(all.status, 0) << all.output;
  EXPECT_CONTAINS(all.output, "as its TensorFlow graph");
  EXPECT_CONTAINS(all.output, "accuracy: 0.9619\n");
  const auto subset = graft("eval " + ckpt + " --classes 5-9 --device cpu --data " + quote(mnist->string()));
  ASSERT_EQ(subset.status, 0) << subset.output;
  EXPECT_CONTAINS(subset.output, "output i stands for label i");
  const double accuracy = std::stod(last_value(subset.output, "accuracy:"));
  EXPECT_GT(accuracy, 0.9) << subset.output;  // relabelled images scored against the full head gave 0.0049
}

}  // namespace
}  // namespace graft
