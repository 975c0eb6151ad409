// The metrics sinks (host/train/metrics_sinks.h) and the trainer's step windows
// (TrainOptions::log_every): CSV and JSONL rows, the TensorBoard tags read
// back with the independent reader, the demo's per-run sub-directories, and
// windows whose totals add up to the epochs'.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "checkpoint/error.h"
#include "host/train/metrics_sinks.h"
#include "host/train/trainer.h"
#include "tests/common/fixtures.h"
#include "tests/common/synthetic_data.h"
#include "tests/events/event_reader.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

using test::blobs;

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) out.push_back(line);
  return out;
}

EpochReport report(int epoch, bool with_test) {
  EpochReport r;
  r.epoch = epoch;
  r.step = 6 * epoch;
  r.train_loss = 0.5 / epoch;
  r.train_accuracy = 0.25 * epoch;
  r.validation_loss = 0.75;
  r.validation_accuracy = 0.625;
  if (with_test) {
    r.test_loss = 0.1;
    r.test_accuracy = 1.0 / 3.0;
  }
  r.seconds = 2.5;
  r.examples = 300;
  r.train_seconds = 2.0;
  r.learning_rate = 0.01f;
  return r;
}

TEST(MetricsSinks, CsvHasAHeaderAndOneRowPerEpoch) {
  test::TempDir dir;
  const fs::path path = dir / "sub/metrics.csv";  // the folder is created
  {
    auto sink = make_metrics_file_sink(path.string());
    sink->epoch(report(1, true));
    sink->epoch(report(2, false));
  }
  const auto rows = lines(read_text(path));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0],
            "epoch,step,train_loss,train_accuracy,validation_loss,validation_accuracy,test_loss,test_accuracy,"
            "learning_rate,examples_per_second,seconds");
  // Shortest round-trip texts; the float learning rate as "0.01".
  EXPECT_EQ(rows[1], "1,6,0.5,0.25,0.75,0.625,0.1,0.3333333333333333,0.01,150,2.5");
  // A missing split is an empty field.
  EXPECT_EQ(rows[2], "2,12,0.25,0.5,0.75,0.625,,,0.01,150,2.5");
}

TEST(MetricsSinks, JsonlHasOneObjectPerEpochWithNulls) {
  test::TempDir dir;
  const fs::path path = dir / "metrics.JSONL";  // the extension is case-insensitive
  {
    auto sink = make_metrics_file_sink(path.string());
    sink->epoch(report(1, true));
    sink->epoch(report(2, false));
  }
  const auto rows = lines(read_text(path));
  ASSERT_EQ(rows.size(), 2u);
  const auto first = nlohmann::json::parse(rows[0]);
  EXPECT_EQ(first["epoch"], 1);
  EXPECT_EQ(first["step"], 6);
  EXPECT_DOUBLE_EQ(first["train_loss"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(first["test_accuracy"].get<double>(), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(first["learning_rate"].get<double>(), 0.01);
  EXPECT_DOUBLE_EQ(first["examples_per_second"].get<double>(), 150.0);
  const auto second = nlohmann::json::parse(rows[1]);
  EXPECT_TRUE(second["test_loss"].is_null());
  EXPECT_TRUE(second["test_accuracy"].is_null());
  // The keys, in the documented order.
  std::vector<std::string> keys;
  for (const char* k : kMetricsColumns) keys.push_back(k);
  std::vector<std::string> got;
  for (auto it = first.begin(); it != first.end(); ++it) got.push_back(it.key());
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(got, keys);  // nlohmann::json sorts its keys
}

TEST(MetricsSinks, OtherExtensionsAreAnError) {
  test::TempDir dir;
  EXPECT_FALSE(is_metrics_file_name("m.txt"));
  EXPECT_FALSE(is_metrics_file_name("csv"));
  EXPECT_TRUE(is_metrics_file_name("a/b.Csv"));
  try {
    make_metrics_file_sink((dir / "m.txt").string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(".csv or .jsonl"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "m.txt"));
}

TEST(MetricsSinks, TensorBoardTagsPerEpochAndPerWindow) {
  test::TempDir dir;
  MetricsLogger logger;
  const std::string path = logger.add_tensorboard((dir / "run").string());
  EXPECT_EQ(logger.paths(), std::vector<std::string>{path});
  logger.epoch(report(1, true));
  StepReport s;
  s.epoch = 2;
  s.step = 8;
  s.steps = 4;
  s.train_loss = 0.3;
  s.train_accuracy = 0.9;
  s.examples = 200;
  s.seconds = 0.5;
  logger.steps(s);
  logger.epoch(report(2, false));

  const auto events = test::read_event_file(path);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].file_version, "brain.Event:2");
  const auto& e1 = events[1].scalars;
  EXPECT_EQ(events[1].step, 6);
  EXPECT_EQ(e1.size(), 8u);
  EXPECT_FLOAT_EQ(e1.at("loss/train"), 0.5f);
  EXPECT_FLOAT_EQ(e1.at("accuracy/train"), 0.25f);
  EXPECT_FLOAT_EQ(e1.at("loss/validation"), 0.75f);
  EXPECT_FLOAT_EQ(e1.at("accuracy/validation"), 0.625f);
  EXPECT_FLOAT_EQ(e1.at("loss/test"), 0.1f);
  EXPECT_FLOAT_EQ(e1.at("accuracy/test"), 1.0f / 3.0f);
  EXPECT_FLOAT_EQ(e1.at("learning_rate"), 0.01f);
  EXPECT_FLOAT_EQ(e1.at("examples_per_second"), 150.0f);
  EXPECT_EQ(events[2].step, 8);
  EXPECT_FLOAT_EQ(events[2].scalars.at("steps/loss"), 0.3f);
  EXPECT_FLOAT_EQ(events[2].scalars.at("steps/accuracy"), 0.9f);
  EXPECT_FLOAT_EQ(events[2].scalars.at("steps/examples_per_second"), 400.0f);
  EXPECT_EQ(events[3].scalars.count("accuracy/test"), 0u);  // no test split in that report
}

TEST(MetricsSinks, EpochLoggerWritesOneSubdirectoryPerRun) {
  test::TempDir dir;
  for (const char* run : {"frozen", "finetune", "scratch"}) {
    const MetricsLogger logger = make_epoch_logger((dir / "logs").string(), run);
    ASSERT_EQ(logger.paths().size(), 1u);
    EXPECT_EQ(fs::path(logger.paths()[0]).parent_path(), dir / "logs" / run);
    // The callback keeps the sinks alive after the logger is gone.
    const EpochCallback cb = logger.epoch_callback();
    cb(report(1, true));
  }
  for (const char* run : {"frozen", "finetune", "scratch"}) {
    const auto files = test::event_files(dir / "logs" / run);
    ASSERT_EQ(files.size(), 1u) << run;
    EXPECT_EQ(test::read_event_file(files[0]).size(), 2u) << run;
  }
  EXPECT_TRUE(make_epoch_logger("", "frozen").empty());  // no logdir: logs nothing
}

// ---- the trainer's step windows ----

struct LoggedRun {
  TrainResult result;
  std::vector<StepReport> windows;
};

// 300 rows in batches of 50: 6 steps per epoch, 3 epochs.
LoggedRun train(int64_t log_every) {
  Dataset d;
  d.train = blobs(300, 1);
  d.validation = blobs(60, 2);
  d.num_classes = 4;
  OptimizerConfig o;
  o.learning_rate = 0.1f;
  TrainOptions t;
  t.epochs = 3;
  t.batch_size = 50;
  t.seed = 3;
  LoggedRun run;
  t.log_every = log_every;
  t.on_steps = [&run](const StepReport& s) { run.windows.push_back(s); };
  auto backend = make_cpu_backend(1);
  Trainer trainer(*backend, make_mlp_spec(8, {16}, 4, Activation{ActivationKind::kRelu}), o, t);
  run.result = trainer.fit(d);
  return run;
}

TEST(TrainerStepWindows, EveryNGlobalStepsAcrossEpochBoundaries) {
  const LoggedRun run = train(4);
  ASSERT_EQ(run.windows.size(), 4u);  // steps 4, 8, 12, 16 of 18
  for (std::size_t i = 0; i < run.windows.size(); ++i) {
    const StepReport& w = run.windows[i];
    EXPECT_EQ(w.step, 4 * static_cast<int64_t>(i + 1));
    EXPECT_EQ(w.steps, 4);
    EXPECT_EQ(w.examples, 200);
    EXPECT_FLOAT_EQ(static_cast<float>(w.learning_rate), 0.1f);
    EXPECT_GT(w.train_loss, 0.0);
    EXPECT_GE(w.seconds, 0.0);
  }
  EXPECT_EQ(run.windows[1].epoch, 2);  // steps 5..8 straddle epochs 1 and 2
  ASSERT_EQ(run.result.epochs.size(), 3u);
  for (const EpochReport& e : run.result.epochs) {
    EXPECT_EQ(e.examples, 300);
    EXPECT_FLOAT_EQ(static_cast<float>(e.learning_rate), 0.1f);
    EXPECT_GT(e.train_seconds, 0.0);
    EXPECT_LE(e.train_seconds, e.seconds);
  }
}

TEST(TrainerStepWindows, WindowsAddUpToTheEpochsAndChangeNothing) {
  const LoggedRun plain = train(0);
  const LoggedRun logged = train(3);  // windows end exactly at the epoch ends
  EXPECT_TRUE(plain.windows.empty());
  ASSERT_EQ(logged.windows.size(), 6u);
  ASSERT_EQ(plain.result.epochs.size(), logged.result.epochs.size());
  double window_loss = 0, epoch_loss = 0;
  int64_t window_correct = 0, epoch_correct = 0;
  for (const StepReport& w : logged.windows) {
    window_loss += w.train_loss * static_cast<double>(w.examples);
    window_correct += std::llround(w.train_accuracy * static_cast<double>(w.examples));
  }
  for (std::size_t i = 0; i < plain.result.epochs.size(); ++i) {
    const EpochReport& a = plain.result.epochs[i];
    const EpochReport& b = logged.result.epochs[i];
    // Taking the totals more often moves no parameter.
    EXPECT_NEAR(a.train_loss, b.train_loss, 1e-9 * std::abs(a.train_loss));
    EXPECT_DOUBLE_EQ(a.train_accuracy, b.train_accuracy);
    EXPECT_DOUBLE_EQ(*a.validation_loss, *b.validation_loss);
    epoch_loss += b.train_loss * static_cast<double>(b.examples);
    epoch_correct += std::llround(b.train_accuracy * static_cast<double>(b.examples));
  }
  EXPECT_NEAR(window_loss, epoch_loss, 1e-9 * epoch_loss);
  EXPECT_EQ(window_correct, epoch_correct);
}

TEST(TrainerStepWindows, NegativeIntervalIsAnError) {
  TrainOptions t;
  t.log_every = -1;
  auto backend = make_cpu_backend(1);
  EXPECT_THROW(Trainer(*backend, make_mlp_spec(8, {4}, 2, Activation{ActivationKind::kRelu}), OptimizerConfig{}, t),
               Error);
}

}  // namespace
}  // namespace graft
