#pragma once
// Where a run's training metrics go: a TensorBoard event file, a CSV file or
// a JSON-lines file. Each sink writes a report as it arrives and flushes it,
// so a running TensorBoard (or `tail -f`) sees every epoch at once and an
// interrupted run keeps what it logged.
//
// TensorBoard tags (x axis: the global step):
//   per epoch:  loss/train, accuracy/train, loss/validation,
//               accuracy/validation, loss/test, accuracy/test (those the run
//               has), learning_rate, examples_per_second
//   every N steps (TrainOptions::log_every): steps/loss, steps/accuracy,
//               steps/examples_per_second, over the last N steps
// CSV / JSONL: one row per epoch, the columns of kMetricsColumns; a missing
// split is an empty CSV field / a JSON null.
//
// Typical use (graft train, the demo):
//   MetricsLogger log;
//   log.add_tensorboard(logdir + "/finetune");      // a sub-directory per run
//   log.add_file("metrics.csv");
//   options.log_every = 100; options.on_steps = log.step_callback();  // before
//   Trainer trainer(backend, spec, optimizer, options);                // the Trainer copies options
//   trainer.fit(data, log.epoch_callback(print_epoch));
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "checkpoint/event_writer.h"
#include "host/train/trainer.h"

namespace graft {

// CSV header / JSON keys, in order.
inline constexpr const char* kMetricsColumns[] = {
    "epoch",     "step",          "train_loss",    "train_accuracy",      "validation_loss", "validation_accuracy",
    "test_loss", "test_accuracy", "learning_rate", "examples_per_second", "seconds"};

class MetricsSink {
 public:
  virtual ~MetricsSink() = default;
  virtual void epoch(const EpochReport& report) = 0;
  virtual void steps(const StepReport& report) { (void)report; }
  // The file written.
  virtual const std::string& path() const = 0;
};

// Scalars for TensorBoard in an event file inside `logdir` (created).
class TensorBoardSink : public MetricsSink {
 public:
  explicit TensorBoardSink(const std::string& logdir);
  void epoch(const EpochReport& report) override;
  void steps(const StepReport& report) override;
  const std::string& path() const override { return writer_.path(); }

 private:
  EventWriter writer_;
};

// One row per epoch; the file is truncated and gets a header line.
class CsvMetricsSink : public MetricsSink {
 public:
  explicit CsvMetricsSink(const std::string& path);
  ~CsvMetricsSink() override;
  void epoch(const EpochReport& report) override;
  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

// One JSON object per line per epoch; the file is truncated.
class JsonlMetricsSink : public MetricsSink {
 public:
  explicit JsonlMetricsSink(const std::string& path);
  ~JsonlMetricsSink() override;
  void epoch(const EpochReport& report) override;
  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

// FILE.csv or FILE.jsonl, chosen by the extension (case-insensitive); any
// other extension is a graft::Error. The parent folder is created.
std::unique_ptr<MetricsSink> make_metrics_file_sink(const std::string& path);
// True for the names make_metrics_file_sink accepts.
bool is_metrics_file_name(const std::string& path);

// Examples per second of training (examples / train_seconds; 0 when no time
// was measured).
double examples_per_second(const EpochReport& report);

// Fans a run's reports out to its sinks. Copies share the sinks, and the
// callbacks keep them alive, so a logger can be returned by value and its
// callbacks outlive it.
class MetricsLogger {
 public:
  MetricsLogger();

  void add(std::unique_ptr<MetricsSink> sink);
  // Adds a TensorBoardSink for `logdir`; returns the event file's path.
  std::string add_tensorboard(const std::string& logdir);
  // Adds make_metrics_file_sink(path).
  void add_file(const std::string& path);

  bool empty() const { return sinks_->empty(); }
  std::vector<std::string> paths() const;

  void epoch(const EpochReport& report) const;
  void steps(const StepReport& report) const;

  // For Trainer::fit: logs the report, then calls `then` (e.g. printing).
  EpochCallback epoch_callback(EpochCallback then = {}) const;
  // For TrainOptions::on_steps.
  StepCallback step_callback() const;

 private:
  std::shared_ptr<std::vector<std::unique_ptr<MetricsSink>>> sinks_;
};

// A logger writing TensorBoard scalars to logdir/run (e.g. run = "frozen",
// "finetune", "scratch"), so that `tensorboard --logdir logdir` overlays the
// runs. An empty logdir gives an empty logger (logs nothing).
MetricsLogger make_epoch_logger(const std::string& logdir, const std::string& run);

}  // namespace graft
