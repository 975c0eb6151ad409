// The training toolbox end to end (issue 17): learning-rate schedules
// recorded in the checkpoint and continued by --resume, the rate the
// metrics file reports, and the one-line errors of bad values.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/cli/cli_util.h"
#include "tests/common/expect_contains.h"
#include "tests/common/fixtures.h"
#include "tests/common/synthetic_data.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

using test::graft;
using test::quote;

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The learning_rate column of a metrics CSV, one value per epoch.
std::vector<double> csv_rates(const std::string& csv) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < csv.size()) {
    const std::size_t end = csv.find('\n', start);
    lines.push_back(csv.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  std::vector<double> out;
  if (lines.empty()) return out;
  int column = -1, i = 0;
  std::size_t at = 0;
  const std::string& header = lines[0];
  while (true) {
    const std::size_t comma = header.find(',', at);
    if (header.substr(at, comma - at) == "learning_rate") column = i;
    if (comma == std::string::npos) break;
    at = comma + 1;
    ++i;
  }
  if (column < 0) return out;
  for (std::size_t l = 1; l < lines.size(); ++l) {
    if (lines[l].empty()) continue;
    std::size_t p = 0;
    for (int c = 0; c < column; ++c) p = lines[l].find(',', p) + 1;
    out.push_back(std::stod(lines[l].substr(p)));
  }
  return out;
}

TEST(ToolboxCli, ScheduleIsReportedRecordedAndContinuedByResume) {
  test::TempDir dir;
  const fs::path data = test::banded_data_dir(dir.path(), 400, 100);
  const std::string prefix = (dir / "run/model.ckpt").string();
  // 360 training rows in batches of 40: 9 steps per epoch. Staircase every
  // 9 steps: epoch e's last step (step 9e - 1) uses 0.1 * 0.5^(e - 1).
  const std::string common = "--hidden 8 --validation 40 --batch-size 40 --device cpu --threads 1 --data " +
                             quote(data.string());
  const auto r = graft("train " + common + " --epochs 2 --lr 0.1 --lr-schedule "
                       "exponential:decay_steps=9,decay_rate=0.5,staircase --save " + quote(prefix) +
                       " --metrics " + quote((dir / "m.csv").string()));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "lr schedule exponential:decay_steps=9,decay_rate=0.5,staircase");
  const std::vector<double> rates = csv_rates(read_text(dir / "m.csv"));
  ASSERT_EQ(rates.size(), 2u) << read_text(dir / "m.csv");
  EXPECT_NEAR(rates[0], 0.1, 1e-7);
  EXPECT_NEAR(rates[1], 0.05, 1e-7);

  const auto inspect = graft("inspect " + quote(prefix));
  EXPECT_CONTAINS(inspect.output, "lr schedule exponential:decay_steps=9,decay_rate=0.5,staircase");

  // --resume with no schedule flag continues it: epoch 3 uses 0.025.
  const auto resume = graft("train --resume " + quote(prefix) + " --epochs 1 --validation 40 --batch-size 40 "
                            "--device cpu --threads 1 --data " + quote(data.string()) + " --metrics " +
                            quote((dir / "r.csv").string()));
  ASSERT_EQ(resume.status, 0) << resume.output;
  const std::vector<double> resumed = csv_rates(read_text(dir / "r.csv"));
  ASSERT_EQ(resumed.size(), 1u);
  EXPECT_NEAR(resumed[0], 0.025, 1e-7);

  // A different schedule on resume contradicts the record.
  const auto other = graft("train --resume " + quote(prefix) + " --epochs 1 --validation 40 --batch-size 40 "
                           "--device cpu --threads 1 --data " + quote(data.string()) +
                           " --lr-schedule cosine:decay_steps=100");
  EXPECT_NE(other.status, 0);
  EXPECT_CONTAINS(other.output, "--lr-schedule cosine:decay_steps=100,alpha=0 contradicts the model recorded");
}

TEST(ToolboxCli, BadScheduleValuesAreOneLineErrorsNamingTheParameter) {
  const std::pair<const char*, const char*> cases[] = {
      {"exponential:decay_steps=10", "decay_rate is required"},
      {"polynomial:decay_steps=10,power=-1", "power must be a positive number"},
      {"cosine:decay_step=10", "no parameter 'decay_step'"},
      {"plateau:factor=2", "factor must be in (0, 1)"},
  };
  for (const auto& [value, message] : cases) {
    const auto r = graft(std::string("train --device cpu --lr-schedule ") + quote(value));
    EXPECT_NE(r.status, 0) << value;
    EXPECT_CONTAINS(r.output, message);
    EXPECT_EQ(test::line_count(r.output), 1) << r.output;
  }
  const auto help = graft("train --help");
  for (const char* name : {"exponential:", "inverse_time:", "natural_exp:", "polynomial:", "cosine:", "piecewise:",
                           "plateau"}) {
    EXPECT_CONTAINS(help.output, name);
  }
}

// The last "test acc X" of graft train's output.
std::string last_test_accuracy(const std::string& out) {
  const std::size_t at = out.rfind("test acc ");
  return at == std::string::npos ? "" : out.substr(at + 9, out.find_first_of(" \n", at + 9) - at - 9);
}

TEST(ToolboxCli, PerLayerActivationsAreRecordedAndEvalNeedsNoFlags) {
  test::TempDir dir;
  const fs::path data = test::banded_data_dir(dir.path(), 400, 100);
  const std::string prefix = (dir / "run/model.ckpt").string();
  const std::string common = " --validation 40 --device cpu --threads 1 --data " + quote(data.string());
  const auto r = graft("train --hidden 16,8,8 --activation elu,selu,tanh --epochs 2 --optimizer adam --lr 0.01" +
                       common + " --save " + quote(prefix));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "(elu,selu,tanh)");
  const auto inspect = graft("inspect " + quote(prefix));
  EXPECT_CONTAINS(inspect.output, "hidden1  dense       16  elu");
  EXPECT_CONTAINS(inspect.output, "hidden2  dense        8  selu");
  EXPECT_CONTAINS(inspect.output, "hidden3  dense        8  tanh");
  const auto eval = graft("eval " + quote(prefix) + " --device cpu --data " + quote(data.string()));
  ASSERT_EQ(eval.status, 0) << eval.output;
  const std::string trained = last_test_accuracy(r.output);
  ASSERT_FALSE(trained.empty()) << r.output;
  EXPECT_CONTAINS(eval.output, "accuracy: " + trained + "\n");

  // By name: the other layers keep relu. A resume naming another activation is refused.
  const auto named = graft("train --hidden 16,8 --activation hidden2=elu --epochs 1" + common + " --save " +
                           quote((dir / "named/model.ckpt").string()));
  ASSERT_EQ(named.status, 0) << named.output;
  EXPECT_CONTAINS(named.output, "(relu,elu)");
  const auto contradiction = graft("train --resume " + quote(prefix) + " --epochs 1 --activation hidden2=relu" + common);
  EXPECT_NE(contradiction.status, 0);
  EXPECT_CONTAINS(contradiction.output, "--activation elu,relu,tanh contradicts the model recorded");
  const auto agreeing = graft("train --resume " + quote(prefix) + " --epochs 1 --activation hidden3=tanh" + common);
  EXPECT_EQ(agreeing.status, 0) << agreeing.output;
  const auto wrong = graft("train --hidden 16,8 --activation elu,elu,elu --epochs 1" + common);
  EXPECT_NE(wrong.status, 0);
  EXPECT_CONTAINS(wrong.output, "3 activations for 2 hidden layers");
}

TEST(ToolboxCli, StandardizedInputsAreRecordedAndEvalNeedsNoFlags) {
  test::TempDir dir;
  const fs::path data = test::banded_data_dir(dir.path(), 400, 100);
  const std::string prefix = (dir / "run/model.ckpt").string();
  const std::string common = " --validation 40 --device cpu --threads 1 --data " + quote(data.string());
  const auto r = graft("train --hidden 16 --activation selu --epochs 2 --standardize" + common + " --save " +
                       quote(prefix) + " --metrics " + quote((dir / "m.jsonl").string()));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "standardized per feature with the mean/stddev of the 360 training rows");
  EXPECT_CONTAINS(graft("inspect " + quote(prefix)).output, "standardized per feature (mean/stddev stored)");
  const auto eval = graft("eval " + quote(prefix) + " --device cpu --data " + quote(data.string()));
  ASSERT_EQ(eval.status, 0) << eval.output;
  const std::string trained = last_test_accuracy(r.output);
  EXPECT_CONTAINS(eval.output, "accuracy: " + trained + "\n");
  // The loss too, in full precision (accuracy alone can saturate).
  const auto json = test::graft_stdout("eval " + quote(prefix) + " --json --device cpu --data " + quote(data.string()));
  const std::string rows = read_text(dir / "m.jsonl");
  const std::size_t at = rows.rfind("\"test_loss\":"), eval_at = json.output.find("\"loss\":");
  ASSERT_NE(at, std::string::npos) << rows;
  ASSERT_NE(eval_at, std::string::npos) << json.output;
  EXPECT_DOUBLE_EQ(std::stod(json.output.substr(eval_at + 7)), std::stod(rows.substr(at + 12)));
  // Asking again on resume is refused: the recorded values are used.
  const auto again = graft("train --resume " + quote(prefix) + " --epochs 1 --standardize" + common);
  EXPECT_NE(again.status, 0);
  EXPECT_CONTAINS(again.output, "--standardize with --resume");
  // A mean/stddev file of the wrong size is a one-line error naming it.
  const std::string file = (dir / "stats.json").string();
  std::ofstream(file) << R"({"mean": [0, 0], "stddev": [1, 1]})";
  const auto bad = graft("train --hidden 8 --epochs 1 --standardize-from " + quote(file) + common);
  EXPECT_NE(bad.status, 0);
  EXPECT_CONTAINS(bad.output, "\"mean\" has 2 values");
  EXPECT_EQ(test::line_count(bad.output), 1) << bad.output;
}

}  // namespace
}  // namespace graft
