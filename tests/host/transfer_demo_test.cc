// The demo workflow: its report states what the numbers say (including when
// transfer does not win), and a --quick run on the MNIST fixture goes end to
// end, writing every checkpoint it names.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/error.h"
#include "tools/graft/demo/transfer_demo.h"
#include "tests/common/fixtures.h"
#include "tests/common/expect_contains.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

DemoRun run(const std::string& key, const std::string& label, std::vector<double> accuracy) {
  DemoRun r;
  r.key = key;
  r.label = label;
  r.test_accuracy = accuracy;
  for (std::size_t i = 0; i < accuracy.size(); ++i) {
    r.seconds.push_back(1.0);
    r.epochs.push_back(10);
    r.best_epoch.push_back(8);
    r.epoch_seconds.push_back(key == "frozen" ? 0.01 : 0.04);
  }
  r.checkpoint = "out/" + key + "/model.ckpt";
  return r;
}

TEST(TransferDemo, ReportVerdicts) {
  DemoResult r;
  r.device_note = "cpu (test)";
  r.seeds = 2;
  r.runs = {run("frozen", "(a) frozen", {0.90, 0.92}), run("finetune", "(b) finetune", {0.84, 0.87}),
            run("scratch", "(c) scratch", {0.84, 0.85})};
  std::string text = format_demo_report(r);
  EXPECT_CONTAINS(text, "(a) frozen beats training from scratch by 6.5 points, on every seed");
  EXPECT_CONTAINS(text, "(b) finetune beats training from scratch by 1.0 points on average, but not on every seed");
  EXPECT_CONTAINS(text, "an epoch of (a) takes 0.25x the time of an epoch of (c)");
  EXPECT_CONTAINS(text, "0.9000-0.9200");
  EXPECT_CONTAINS(text, "(a) frozen    0.9100");
  r.runs[0].test_accuracy = {0.70, 0.72};
  text = format_demo_report(r);
  EXPECT_CONTAINS(text, "(a) frozen does NOT beat training from scratch (-13.5 points)");
  r.quick = true;
  EXPECT_CONTAINS(format_demo_report(r), "--quick: tiny budgets");
}

TEST(TransferDemo, QuickRunEndToEnd) {
  GRAFT_REQUIRE_FIXTURE(mnist, "mnist");
  test::TempDir dir;
  // The fixtures hold MNIST t10k only: use it as the training files too.
  const fs::path data = test::mnist_as_training_data(mnist, dir);
  DemoOptions o;
  o.data_dir = data.string();
  o.out_dir = (dir / "out").string();
  o.make_quick();
  o.reference_hidden = {64, 32, 32, 32, 32};  // smaller, faster; same shape of story
  int lines = 0;
  auto backend = make_cpu_backend(2);
  const DemoResult r = run_transfer_demo(*backend, o, [&](const std::string&) { ++lines; });
  EXPECT_GT(lines, 5);
  EXPECT_TRUE(r.quick);
  EXPECT_EQ(r.reference_model, "784-64-32-32-32-32-5 (relu)");
  EXPECT_EQ(r.new_model, "784-64-32-32-20-5 (relu)");
  EXPECT_EQ(r.restore_plan.restored_count(), 6);
  ASSERT_EQ(r.runs.size(), 3u);
  EXPECT_EQ(r.runs[0].key, "frozen");
  EXPECT_TRUE(r.runs[0].cache.used);
  EXPECT_FALSE(r.runs[1].cache.used);
  EXPECT_FALSE(r.runs[2].cache.used);
  for (const DemoRun& run : r.runs) {
    ASSERT_EQ(run.test_accuracy.size(), 1u);
    EXPECT_GT(run.test_accuracy[0], 0.0);
    EXPECT_LE(run.epochs[0], 3);
    EXPECT_NO_THROW(BundleReader::open(run.checkpoint)) << run.checkpoint;
  }
  // The frozen run saved hidden1-3 exactly as the reference has them.
  const BundleReader ref = BundleReader::open(r.reference_checkpoint);
  const BundleReader frozen = BundleReader::open(r.runs[0].checkpoint);
  EXPECT_EQ(frozen.read_float(*frozen.find("hidden2/kernel")), ref.read_float(*ref.find("hidden2/kernel")));
  EXPECT_TRUE(fs::exists(r.report_path));
  EXPECT_TRUE(fs::is_directory(fs::path(r.logdir) / "frozen"));
  EXPECT_CONTAINS(format_demo_report(r), "restore table of run (a)");
}

TEST(TransferDemo, MissingDataSaysHowToGetIt) {
  test::TempDir dir;
  DemoOptions o;
  o.data_dir = (dir / "nowhere").string();
  o.out_dir = (dir / "out").string();
  auto backend = make_cpu_backend(1);
  try {
    run_transfer_demo(*backend, o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "dataset-fashion-mnist");
    EXPECT_CONTAINS(e.what(), "--data");
  }
}

}  // namespace
}  // namespace graft
