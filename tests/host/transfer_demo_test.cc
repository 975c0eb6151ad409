// The demo workflow: its closing sentences say no more than its table does,
// its pictures decode with a library that did not write them, the training
// samples are nested per seed, and a --quick run on the MNIST fixture goes
// end to end, writing every file it names.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/error.h"
#include "tests/common/expect_contains.h"
#include "tests/common/fixtures.h"
#include "tools/graft/demo/demo_pictures.h"
#include "tools/graft/demo/demo_report.h"
#include "tools/graft/demo/subsample.h"
#include "tools/graft/demo/transfer_demo.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

CurvePoint point(int64_t n, const std::string& variant, std::vector<double> accuracy) {
  CurvePoint p;
  p.per_class = n;
  p.variant = variant;
  p.learning_rate = 0.001f;
  p.rates_tried = {0.001f};
  p.validation_by_rate = {0.5};
  p.test_accuracy = accuracy;
  for (std::size_t i = 0; i < accuracy.size(); ++i) {
    p.epochs.push_back(30);
    p.best_epoch.push_back(20);
  }
  p.run_seconds = 1.0;
  p.epoch_seconds = variant == "frozen" ? 0.001 : 0.02;
  return p;
}

// (frozen, finetune, scratch) accuracies per N.
DemoResult table(const std::vector<std::pair<int64_t, std::vector<std::vector<double>>>>& rows) {
  DemoResult r;
  r.device_note = "cpu (test)";
  r.variant_labels = {"(a) frozen", "(b) fine-tuned", "(c) scratch"};
  r.seeds = static_cast<int>(rows.front().second.front().size());
  r.max_epochs = 1000;
  r.patience = 10;
  r.out_dir = "out";
  for (const auto& [n, acc] : rows) {
    for (std::size_t v = 0; v < 3; ++v) r.points.push_back(point(n, r.variant_keys[v], acc[v]));
  }
  return r;
}

TEST(TransferDemo, SentencesFollowTheTable) {
  // Reuse ahead on every seed at 10, ranges overlapping from 100 on.
  DemoResult r = table({{10, {{0.70, 0.72}, {0.74, 0.76}, {0.64, 0.66}}},
                        {100, {{0.80, 0.81}, {0.82, 0.84}, {0.81, 0.83}}},
                        {1000, {{0.83, 0.84}, {0.86, 0.88}, {0.87, 0.89}}}});
  EXPECT_EQ(summary_sentences(r),
            "With 10 images per class, reuse ((b), the better of (a) and (b)) beats scratch by 10.0 points, on every "
            "seed. From 100 images per class on, scratch catches up: the ranges overlap.");
  // ... and scratch ahead on every seed at the largest N.
  r.points[8].test_accuracy = {0.90, 0.91};
  EXPECT_CONTAINS(summary_sentences(r), "From 100 images per class on, scratch catches up and at 1000 images per "
                                        "class beats reuse by 3.5 points.");
  // Reuse ahead on average but the ranges overlap: no "beats".
  r = table({{10, {{0.70, 0.80}, {0.60, 0.62}, {0.66, 0.72}}}});
  EXPECT_EQ(summary_sentences(r),
            "With 10 images per class, reuse ((a), the better of (a) and (b)) and scratch are within noise of each "
            "other (6.0 points on average; the ranges overlap).");
  r = table({{10, {{0.70, 0.80}, {0.60, 0.62}, {0.66, 0.72}}}, {100, {{0.80, 0.81}, {0.80, 0.81}, {0.80, 0.82}}}});
  EXPECT_CONTAINS(summary_sentences(r), "Reuse does not beat scratch on every seed at any label count tried.");
  // One seed: no range, no claim.
  r = table({{10, {{0.90}, {0.80}, {0.60}}}});
  EXPECT_EQ(summary_sentences(r).find("beats scratch"), std::string::npos) << summary_sentences(r);
  EXPECT_CONTAINS(summary_sentences(r), "no range to judge");
  // Within noise at 10, ahead at 100.
  r = table({{10, {{0.70, 0.80}, {0.60, 0.62}, {0.66, 0.72}}}, {100, {{0.80, 0.81}, {0.84, 0.85}, {0.81, 0.82}}}});
  EXPECT_CONTAINS(summary_sentences(r),
                  "Reuse beats scratch on every seed only at 100 images per class ((b), by 3.0 points).");
  // One N: one sentence.
  r = table({{300, {{0.82, 0.83}, {0.84, 0.85}, {0.83, 0.835}}}});
  EXPECT_EQ(summary_sentences(r),
            "With 300 images per class, reuse ((b), the better of (a) and (b)) beats scratch by 1.2 points, on every "
            "seed.");
  // Ahead at every N.
  r = table({{10, {{0.70, 0.72}, {0.60, 0.61}, {0.50, 0.52}}}, {30, {{0.80, 0.82}, {0.60, 0.61}, {0.70, 0.72}}}});
  EXPECT_CONTAINS(summary_sentences(r), "Reuse still beats scratch at 30 images per class, by 10.0 points.");
}

// The sentence's claim about the smallest N, checked against the table by a
// rule written independently of compare_to_scratch, on random tables.
TEST(TransferDemo, BeatsOnlyWhenMeansAndRangesSaySo) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> acc(0.5, 0.9), spread(0.0, 0.05);
  int beats = 0, within = 0;
  for (int t = 0; t < 500; ++t) {
    std::vector<std::vector<double>> cells;
    for (int v = 0; v < 3; ++v) {
      const double a = acc(rng);
      cells.push_back({a, a + spread(rng), a + spread(rng)});
    }
    const DemoResult r = table({{10, cells}});
    const auto mean = [](const std::vector<double>& x) { return (x[0] + x[1] + x[2]) / 3; };
    const auto lo = [](const std::vector<double>& x) { return std::min({x[0], x[1], x[2]}); };
    const auto hi = [](const std::vector<double>& x) { return std::max({x[0], x[1], x[2]}); };
    const std::vector<double>& reuse = mean(cells[0]) >= mean(cells[1]) ? cells[0] : cells[1];
    const std::string text = summary_sentences(r);
    const bool says_reuse_beats = text.find(") beats scratch by") != std::string::npos;
    const bool says_scratch_beats = text.find("scratch beats reuse") != std::string::npos;
    EXPECT_EQ(says_reuse_beats, lo(reuse) > hi(cells[2])) << text;
    EXPECT_EQ(says_scratch_beats, lo(cells[2]) > hi(reuse)) << text;
    if (says_reuse_beats) {
      char points[32];
      std::snprintf(points, sizeof points, "by %.1f points", 100 * (mean(reuse) - mean(cells[2])));
      EXPECT_CONTAINS(text, points);
    }
    beats += says_reuse_beats;
    within += !says_reuse_beats && !says_scratch_beats;
  }
  EXPECT_GT(beats, 20);  // both kinds of table occur
  EXPECT_GT(within, 20);
}

TEST(TransferDemo, ReportHasTableTimingsAndBudget) {
  DemoResult r = table({{10, {{0.70, 0.72}, {0.74, 0.76}, {0.64, 0.66}}}});
  r.cache_epochs = 5;
  r.cached_epoch_seconds = 0.002;
  r.uncached_epoch_seconds = 0.020;
  r.cache_seconds = 0.1;
  std::string text = format_demo_report(r);
  EXPECT_CONTAINS(text, "0.7100 (0.7000-0.7200)");
  EXPECT_CONTAINS(text, "takes 2.0 ms with it and 20.0 ms without (10.0x, 5 epochs each");
  EXPECT_CONTAINS(text, "no run's budget ran out");
  r.points[2].budget_ran_out = 1;
  text = format_demo_report(r);
  EXPECT_CONTAINS(text, "at 10 images per class, (c) scratch ran out of its budget of 1000 epochs before early "
                        "stopping ended it (1 of 2 seeds)");
  r.quick = true;
  EXPECT_CONTAINS(format_demo_report(r), "--quick: tiny budgets");
}

TEST(TransferDemo, SamplesAreNestedPerSeedAndDifferAcrossSeeds) {
  Dataset d;
  d.num_classes = 2;
  d.train.cols = 1;
  for (int i = 0; i < 100; ++i) {
    d.train.features.push_back(static_cast<float>(i));
    d.train.labels.push_back(i % 2);
  }
  d.train.rows = 100;
  const Dataset a10 = subsample_per_class(d, 10, 1), a30 = subsample_per_class(d, 30, 1);
  const Dataset b10 = subsample_per_class(d, 10, 2);
  ASSERT_EQ(a10.train.rows, 20);
  ASSERT_EQ(a30.train.rows, 60);
  int per_class[2] = {0, 0};
  for (int32_t l : a10.train.labels) ++per_class[l];
  EXPECT_EQ(per_class[0], 10);
  EXPECT_EQ(per_class[1], 10);
  for (float f : a10.train.features) {
    EXPECT_NE(std::find(a30.train.features.begin(), a30.train.features.end(), f), a30.train.features.end()) << f;
    EXPECT_EQ(a10.train.labels[static_cast<std::size_t>(std::find(a10.train.features.begin(),
                                                                  a10.train.features.end(), f) -
                                                        a10.train.features.begin())],
              static_cast<int>(f) % 2);
  }
  EXPECT_NE(a10.train.features, b10.train.features);
  EXPECT_EQ(subsample_per_class(d, 1000, 1).train.rows, 100);  // fewer than n: all
}

// Debian's python3 (where python3-PIL installs) before one on PATH.
std::string python3() { return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3"; }

// Decodes the PNG with PIL and parses the SVG (tests/host/check_picture.py).
void expect_picture(const std::string& base, const std::string& colours) {
  const std::string cmd = python3() + " " GRAFT_SOURCE_DIR "/tests/host/check_picture.py " + base + ".png " + base +
                          ".svg 800 500 " + colours;
  const int rc = std::system(cmd.c_str());
  if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77) GTEST_SKIP() << "python3-PIL missing: the picture is not looked at";
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << cmd;
}

constexpr const char* kVariantColours = "0073b2 d65e00 009e73";

TEST(TransferDemo, PicturesDecodeElsewhereAndShowTheCurves) {
  if (std::system((python3() + " -c '' 2>/dev/null").c_str()) != 0) {
    GTEST_SKIP() << "no python3: pictures not looked at";
  }
  test::TempDir dir;
  DemoResult r = table({{10, {{0.70, 0.72}, {0.74, 0.76}, {0.64, 0.66}}},
                        {100, {{0.80, 0.81}, {0.82, 0.84}, {0.81, 0.83}}},
                        {1000, {{0.83, 0.84}, {0.86, 0.88}, {0.87, 0.89}}}});
  r.out_dir = dir.path().string();
  r.curves_per_class = 10;
  for (const std::string& key : r.variant_keys) {
    TrainingCurve c;
    c.variant = key;
    const double offset = key == "scratch" ? -0.1 : key == "frozen" ? 0.1 : 0;  // three distinct lines
    for (int e = 0; e < 30; ++e) c.validation_accuracy.push_back(0.5 + 0.01 * e + offset);
    r.curves.push_back(c);
  }
  const std::vector<std::string> lines = write_demo_pictures(r);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_CONTAINS(lines[0], "learning_curve.png");
  expect_picture((dir.path() / "learning_curve").string(), kVariantColours);
  expect_picture((dir.path() / "training_curves").string(), kVariantColours);
}

TEST(TransferDemo, ChartWithoutPointsIsAnError) {
  test::TempDir dir;
  Chart c;
  c.title = "empty";
  c.series.push_back(Series{});
  EXPECT_THROW(write_chart_png(c, (dir.path() / "x.png").string()), Error);
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
  o.source_hidden = {64, 32, 32, 32, 32};  // smaller, faster; same shape of story
  int lines = 0;
  auto backend = make_cpu_backend(2);
  const DemoResult r = run_transfer_demo(*backend, o, [&](const std::string&) { ++lines; });
  EXPECT_GT(lines, 5);
  EXPECT_TRUE(r.quick);
  EXPECT_EQ(r.source_model, "784-64-32-32-32-32-4 (relu)");
  EXPECT_EQ(r.target_model, "784-64-20-10 (relu)");
  EXPECT_EQ(r.restore_plan.restored_count(), 2);  // hidden1/kernel, hidden1/bias
  ASSERT_EQ(r.points.size(), 6u);  // 2 N x 3 variants
  EXPECT_EQ(r.grid(), (std::vector<int64_t>{10, 30}));
  for (const CurvePoint& p : r.points) {
    ASSERT_EQ(p.test_accuracy.size(), 1u);
    EXPECT_GT(p.test_accuracy[0], 0.0);
    EXPECT_LE(p.epochs[0], 3);
    EXPECT_EQ(p.validation_by_rate.size(), o.learning_rates.size());
  }
  EXPECT_EQ(r.curves.size(), 3u);
  ASSERT_EQ(r.checkpoints.size(), 3u);
  for (const std::string& c : r.checkpoints) EXPECT_NO_THROW(BundleReader::open(c)) << c;
  // The frozen run saved hidden1 exactly as the source has it.
  const BundleReader src = BundleReader::open(r.source_checkpoint);
  const BundleReader frozen = BundleReader::open(r.checkpoints[0]);
  EXPECT_EQ(frozen.read_float(*frozen.find("hidden1/kernel")), src.read_float(*src.find("hidden1/kernel")));
  EXPECT_TRUE(fs::exists(r.report_path));
  EXPECT_TRUE(fs::is_directory(r.logdir));
  for (const char* f : {"learning_curve.png", "learning_curve.svg", "training_curves.png", "training_curves.svg"}) {
    EXPECT_TRUE(fs::exists(fs::path(o.out_dir) / f)) << f;
  }
  const std::string report = format_demo_report(r);
  EXPECT_CONTAINS(report, "restore table of (a) and (b)");
  // The source's Adam slots are counted on one line, not listed.
  EXPECT_CONTAINS(report, "  (and 24 optimizer slots of the source's Adam: a transfer run starts a fresh optimizer)\n"
                          "2 of 6 model variables restored");  // 6 layers x 2 variables x 2 slots
  EXPECT_EQ(report.find("Adam_1: optimizer slot"), std::string::npos);
  EXPECT_CONTAINS(report, "learning_curve.png");
  EXPECT_CONTAINS(report, summary_sentences(r));
  EXPECT_GT(r.cached_epoch_seconds, 0.0);
  EXPECT_GT(r.uncached_epoch_seconds, 0.0);
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
