// `graft train --logdir DIR --metrics FILE` end to end on a tiny IDX data set
// written here: the event file is read back with the independent reader
// (framing CRCs, file_version first) and its values must be the numbers the
// CLI printed for each epoch and the rows of the metrics file.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/cli/cli_util.h"
#include "tests/common/fixtures.h"
#include "tests/common/synthetic_data.h"
#include "tests/events/event_reader.h"
#include "tests/common/expect_contains.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

using test::graft;
using test::quote;

fs::path tiny_data(const test::TempDir& dir) { return test::banded_data_dir(dir.path(), 400, 100); }

// 300 training rows (100 go to validation) in batches of 50: 6 steps per epoch.
std::string train_args(const fs::path& data) {
  return "train --data " + quote(data.string()) +
         " --validation 100 --hidden 16 --epochs 3 --batch-size 50 --lr 0.05 --device cpu --threads 1";
}

struct PrintedEpoch {
  std::string loss, train_acc, valid_acc, test_acc;
};

std::vector<PrintedEpoch> printed_epochs(const std::string& out) {
  std::vector<PrintedEpoch> epochs;
  const std::regex re(R"(epoch +[0-9]+  loss ([0-9.]+)  train acc ([0-9.]+)  valid acc ([0-9.]+)  \()");
  for (auto it = std::sregex_iterator(out.begin(), out.end(), re); it != std::sregex_iterator(); ++it) {
    epochs.push_back({(*it)[1], (*it)[2], (*it)[3], ""});
  }
  // The test accuracy is printed once, for the model the run keeps (the last epoch's here).
  std::smatch m;
  if (!epochs.empty() && std::regex_search(out, m, std::regex(R"(\ntest acc ([0-9.]+) \(the model of the last epoch)"))) {
    epochs.back().test_acc = m[1];
  }
  return epochs;
}

std::string fixed4(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4f", v);
  return buf;
}

std::vector<std::string> read_lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  for (std::string field; std::getline(ss, field, ',');) out.push_back(field);
  if (!line.empty() && line.back() == ',') out.push_back("");
  return out;
}

// The single event file in `logdir`, read back.
std::vector<test::Event> events_in(const fs::path& logdir) {
  const auto files = test::event_files(logdir);
  EXPECT_EQ(files.size(), 1u) << logdir;
  if (files.empty()) return {};
  return test::read_event_file(files[0]);
}

// Per-epoch values as the metrics file holds them (doubles).
using Row = std::map<std::string, double>;

// Checks one epoch's event against the metrics row and the printed line.
void expect_epoch_matches(const test::Event& event, const Row& row, const PrintedEpoch& printed) {
  EXPECT_EQ(event.step, static_cast<int64_t>(row.at("step")));
  const auto& s = event.scalars;
  ASSERT_EQ(s.count("loss/train"), 1u);
  // The event holds the float of the row's double; the CLI printed it rounded.
  EXPECT_EQ(s.at("loss/train"), static_cast<float>(row.at("train_loss")));
  EXPECT_EQ(s.at("accuracy/train"), static_cast<float>(row.at("train_accuracy")));
  EXPECT_EQ(s.at("loss/validation"), static_cast<float>(row.at("validation_loss")));
  EXPECT_EQ(s.at("accuracy/validation"), static_cast<float>(row.at("validation_accuracy")));
  EXPECT_EQ(s.at("loss/test"), static_cast<float>(row.at("test_loss")));
  EXPECT_EQ(s.at("accuracy/test"), static_cast<float>(row.at("test_accuracy")));
  EXPECT_EQ(s.at("learning_rate"), 0.05f);
  EXPECT_EQ(row.at("learning_rate"), 0.05);  // written as "0.05"
  EXPECT_EQ(s.at("examples_per_second"), static_cast<float>(row.at("examples_per_second")));
  EXPECT_GT(row.at("examples_per_second"), 0.0);
  EXPECT_EQ(fixed4(row.at("train_loss")), printed.loss);
  EXPECT_EQ(fixed4(row.at("train_accuracy")), printed.train_acc);
  EXPECT_EQ(fixed4(row.at("validation_accuracy")), printed.valid_acc);
  if (!printed.test_acc.empty()) EXPECT_EQ(fixed4(row.at("test_accuracy")), printed.test_acc);
}

TEST(TrainLogdir, EventFileAndCsvMatchThePrintedEpochs) {
  test::TempDir dir;
  const fs::path data = tiny_data(dir);
  const fs::path logdir = dir / "logs";
  const fs::path csv = dir / "metrics.csv";
  const auto r = graft(train_args(data) + " --logdir " + quote(logdir.string()) + " --log-every 4 --metrics " +
                       quote(csv.string()));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "300 train, 100 validation, 100 test");
  EXPECT_CONTAINS(r.output, "(view with: tensorboard --logdir " + logdir.string() + ")");
  EXPECT_CONTAINS(r.output, "metrics: " + csv.string());
  const auto printed = printed_epochs(r.output);
  ASSERT_EQ(printed.size(), 3u) << r.output;
  EXPECT_FALSE(printed.back().test_acc.empty()) << r.output;  // reported once, after the last epoch

  // The CSV: a header and one row per epoch.
  const auto lines = read_lines(csv);
  ASSERT_EQ(lines.size(), 4u);
  const auto header = split_csv(lines[0]);
  EXPECT_EQ(lines[0],
            "epoch,step,train_loss,train_accuracy,validation_loss,validation_accuracy,test_loss,test_accuracy,"
            "learning_rate,examples_per_second,seconds");
  std::vector<Row> rows;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto fields = split_csv(lines[i]);
    ASSERT_EQ(fields.size(), header.size()) << lines[i];
    Row row;
    for (std::size_t k = 0; k < fields.size(); ++k) row[header[k]] = std::stod(fields[k]);
    EXPECT_EQ(row["epoch"], static_cast<double>(i));
    EXPECT_EQ(row["step"], 6.0 * static_cast<double>(i));
    rows.push_back(row);
  }
  ASSERT_EQ(rows.size(), 3u);

  // The event file: file_version, then epochs (steps 6, 12, 18) interleaved
  // with the 4-step windows (steps 4, 8, 12, 16), in step order.
  const auto events = events_in(logdir);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].file_version, "brain.Event:2");
  EXPECT_TRUE(events[0].scalars.empty());
  std::vector<const test::Event*> epochs;
  std::vector<int64_t> window_steps;
  int64_t last_step = 0;
  for (std::size_t i = 1; i < events.size(); ++i) {
    const test::Event& e = events[i];
    EXPECT_TRUE(e.file_version.empty());
    EXPECT_GE(e.step, last_step);
    EXPECT_GE(e.wall_time, events[0].wall_time);
    last_step = e.step;
    if (e.scalars.count("loss/train")) epochs.push_back(&e);
    if (e.scalars.count("steps/loss")) {
      window_steps.push_back(e.step);
      EXPECT_EQ(e.scalars.size(), 3u);
      EXPECT_GT(e.scalars.at("steps/loss"), 0.0f);
      EXPECT_GE(e.scalars.at("steps/accuracy"), 0.0f);
      EXPECT_LE(e.scalars.at("steps/accuracy"), 1.0f);
      EXPECT_GT(e.scalars.at("steps/examples_per_second"), 0.0f);
    }
  }
  EXPECT_EQ(window_steps, (std::vector<int64_t>{4, 8, 12, 16}));
  ASSERT_EQ(epochs.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE("epoch " + std::to_string(i + 1));
    EXPECT_EQ(epochs[i]->scalars.size(), 8u);
    expect_epoch_matches(*epochs[i], rows[i], printed[i]);
  }
}

TEST(TrainLogdir, JsonlRowsMatchTheEventFile) {
  test::TempDir dir;
  const fs::path data = tiny_data(dir);
  const fs::path logdir = dir / "runs" / "a";
  const fs::path jsonl = dir / "out" / "metrics.jsonl";  // the folder is created
  const auto r = graft(train_args(data) + " --logdir " + quote(logdir.string()) + " --metrics " + quote(jsonl.string()));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto printed = printed_epochs(r.output);
  ASSERT_EQ(printed.size(), 3u) << r.output;
  EXPECT_FALSE(printed.back().test_acc.empty()) << r.output;  // reported once, after the last epoch

  const auto lines = read_lines(jsonl);
  ASSERT_EQ(lines.size(), 3u);
  std::vector<Row> rows;
  for (const std::string& line : lines) {
    const auto j = nlohmann::json::parse(line);
    Row row;
    for (auto it = j.begin(); it != j.end(); ++it) {
      ASSERT_TRUE(it.value().is_number()) << it.key() << " in " << line;
      row[it.key()] = it.value().get<double>();
    }
    EXPECT_EQ(row.size(), 11u);
    rows.push_back(row);
  }

  const auto events = events_in(logdir);
  ASSERT_EQ(events.size(), 4u);  // file_version + 3 epochs; no --log-every, no windows
  EXPECT_EQ(events[0].file_version, "brain.Event:2");
  for (std::size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE("epoch " + std::to_string(i + 1));
    EXPECT_EQ(events[i + 1].scalars.count("steps/loss"), 0u);
    expect_epoch_matches(events[i + 1], rows[i], printed[i]);
  }
}

TEST(TrainLogdir, FlagErrors) {
  test::TempDir dir;
  const fs::path data = tiny_data(dir);
  auto r = graft(train_args(data) + " --metrics " + quote((dir / "m.txt").string()));
  EXPECT_NE(r.status, 0);
  EXPECT_CONTAINS(r.output, ".csv or .jsonl");
  EXPECT_FALSE(fs::exists(dir / "m.txt"));

  r = graft(train_args(data) + " --log-every 5");
  EXPECT_NE(r.status, 0);
  EXPECT_CONTAINS(r.output, "--logdir");

  r = graft(train_args(data) + " --logdir " + quote((dir / "l").string()) + " --log-every 0");
  EXPECT_NE(r.status, 0);
}

}  // namespace
}  // namespace graft
