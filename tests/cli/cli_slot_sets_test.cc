// graft train with a checkpoint holding two optimizers' slots (the book's
// Adam, then Adam2 for the new layer; tests/common/two_optimizers.h):
// --restore-slots and --resume say which slot set they take and why,
// --slot-set takes the other, an unknown set is refused naming those the
// checkpoint has, and a resumed run's save keeps every stored name.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/cli/cli_util.h"
#include "tests/common/expect_contains.h"
#include "tests/common/fixtures.h"
#include "tests/common/synthetic_data.h"
#include "tests/common/two_optimizers.h"

namespace graft {
namespace {

using test::graft;
using test::quote;

struct TwoOptimizerRun {
  test::TempDir tmp;
  std::string prefix = (tmp / "two/model.ckpt").string();
  std::string data;
  TwoOptimizerRun() {
    std::filesystem::create_directories(tmp / "two");
    test::TwoOptimizers o;
    o.inputs = 784;
    o.units = 8;
    o.classes = 4;
    test::write_two_optimizers(prefix, o);
    data = test::banded_data_dir(tmp.path(), 200, 50).string();
  }
  std::string transfer() const {
    return "train --data " + quote(data) + " --validation 50 --epochs 1 --hidden 8 --optimizer adam --init-from " +
           quote(prefix) + " ";
  }
  std::string resume(const std::string& from) const {
    return "train --resume " + quote(from) + " --data " + quote(data) + " --validation 50 --epochs 1 ";
  }
};

std::vector<std::string> variables_of(const std::string& prefix) {
  const auto j = test::graft_stdout("inspect --json " + quote(prefix));
  const nlohmann::json parsed = nlohmann::json::parse(j.output);
  std::vector<std::string> names;
  for (const auto& v : parsed.at("variables")) names.push_back(v.at("name").get<std::string>());
  return names;
}

TEST(CliSlotSets, RestoreSlotsSaysWhichSetAndSlotSetTakesTheOther) {
  const TwoOptimizerRun s;
  const auto r = graft(s.transfer() + "--restore-slots --dry-run");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "optimizer slots: slot set Adam2 (the graph's training op reads it");
  EXPECT_CONTAINS(r.output, "restored from outputs/kernel + 2 optimizer slot(s) of Adam2");
  EXPECT_CONTAINS(r.output, "outputs/kernel/Adam: optimizer slot of another optimizer (Adam; --slot-set Adam restores it)");
  EXPECT_EQ(r.output.find("does not have"), std::string::npos) << r.output;

  const auto other = graft(s.transfer() + "--restore-slots --slot-set Adam --dry-run");
  ASSERT_EQ(other.status, 0) << other.output;
  EXPECT_CONTAINS(other.output, "optimizer slots: slot set Adam (as asked)");
  EXPECT_CONTAINS(other.output,
                  "outputs/kernel/Adam2: optimizer slot of another optimizer (Adam2; --slot-set Adam2 restores it)");

  const auto unknown = graft(s.transfer() + "--restore-slots --slot-set Adam3 --dry-run");
  EXPECT_EQ(unknown.status, 1) << unknown.output;
  EXPECT_CONTAINS(unknown.output, "graft train: error: --slot-set 'Adam3': " + s.prefix +
                                      " holds no adam slot set Adam3; its slot sets are Adam, Adam2");
  const auto alone = graft(s.transfer() + "--slot-set Adam2 --dry-run");
  EXPECT_EQ(alone.status, 1) << alone.output;
  EXPECT_CONTAINS(alone.output, "--slot-set chooses which optimizer's slots --restore-slots or --resume restores");
}

TEST(CliSlotSets, ResumeKeepsTheStoredNamesAndTheChoice) {
  const TwoOptimizerRun s;
  const std::string out = (s.tmp / "resumed/m.ckpt").string();
  const auto r = graft(s.resume(s.prefix) + "--optimizer adam --lr 0.001 --save " + quote(out));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "optimizer slots: slot set Adam2 (the graph's training op reads it");
  EXPECT_CONTAINS(r.output, "power scalars beta1_power_1, beta2_power_1");
  EXPECT_CONTAINS(r.output, "kept as stored, not trained (saves write them back): outputs/bias/Adam,");
  EXPECT_EQ(r.output.find("does not use"), std::string::npos) << r.output;
  const std::vector<std::string> names = variables_of(out);
  for (const char* kept : {"beta1_power_1", "beta2_power_1", "beta1_power", "beta2_power", "outputs/kernel/Adam2",
                           "outputs/kernel/Adam", "hidden1/kernel/Adam_1"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), kept), names.end()) << kept;
  }

  // graft's save has no graph: the recorded choice continues.
  const auto again = graft(s.resume(out) + "--save " + quote((s.tmp / "again/m.ckpt").string()));
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_CONTAINS(again.output, "optimizer slots: slot set Adam2 (the model recorded in " + out + " trains with it)");

  const auto first = graft(s.resume(s.prefix) + "--optimizer adam --slot-set Adam");
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_CONTAINS(first.output, "optimizer slots: slot set Adam (as asked)");
  EXPECT_CONTAINS(first.output, "power scalars beta1_power, beta2_power");
  const auto unknown = graft(s.resume(s.prefix) + "--optimizer adam --slot-set Adam_2");
  EXPECT_EQ(unknown.status, 1) << unknown.output;
  EXPECT_CONTAINS(unknown.output, "--slot-set 'Adam_2': " + s.prefix + " holds no adam slot set Adam_2; its slot "
                                  "sets are Adam, Adam2");
}

TEST(CliSlotSets, HelpListsTheFlag) {
  const auto r = graft("train --help");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "--slot-set");
  EXPECT_CONTAINS(r.output, "several optimizers' slots");
}

}  // namespace
}  // namespace graft
