#include "host/train/metrics_sinks.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>

#include "checkpoint/error.h"

namespace graft {
namespace {

// The shortest "%g" text of v that `reads_back` accepts, without an exponent
// for whole digits below 1e16 ("150", not "1.5e+02").
template <typename ReadsBack>
std::string shortest_text(double v, int max_precision, ReadsBack reads_back) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[40];
  int precision = 1;
  for (; precision < max_precision; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (reads_back(buf)) break;
  }
  std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
  const double magnitude = std::fabs(v);
  if (magnitude >= 1 && magnitude < 1e16) {
    const int digits = static_cast<int>(std::floor(std::log10(magnitude))) + 1;
    if (digits > precision) std::snprintf(buf, sizeof(buf), "%.*g", digits, v);
  }
  return buf;
}

// The shortest text that reads back as the same double.
std::string number_text(double v) {
  return shortest_text(v, 17, [v](const char* text) { return std::strtod(text, nullptr) == v; });
}

// The learning rate is a float: the shortest text that reads back as it
// ("0.01", not "0.0099999997764825821").
std::string float_text(double v) {
  const float f = static_cast<float>(v);
  if (!std::isfinite(f)) return number_text(v);
  return shortest_text(static_cast<double>(f), 9, [f](const char* text) { return std::strtof(text, nullptr) == f; });
}

// The values of kMetricsColumns for one epoch; nullopt = not measured.
std::vector<std::optional<std::string>> row(const EpochReport& r) {
  auto opt = [](const std::optional<double>& v) -> std::optional<std::string> {
    if (!v) return std::nullopt;
    return number_text(*v);
  };
  return {std::to_string(r.epoch),
          std::to_string(r.step),
          number_text(r.train_loss),
          number_text(r.train_accuracy),
          opt(r.validation_loss),
          opt(r.validation_accuracy),
          opt(r.test_loss),
          opt(r.test_accuracy),
          float_text(r.learning_rate),
          number_text(examples_per_second(r)),
          number_text(r.seconds)};
}

std::FILE* open_for_writing(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) throw Error("cannot create folder " + parent.string() + " for " + path + ": " + ec.message());
  }
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw Error("cannot create metrics file " + path + ": " + std::strerror(errno));
  return f;
}

void write_line(std::FILE* f, const std::string& path, const std::string& line) {
  if (std::fwrite(line.data(), 1, line.size(), f) != line.size() || std::fflush(f) != 0) {
    throw Error("cannot write metrics file " + path + ": " + std::strerror(errno));
  }
}

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

}  // namespace

double examples_per_second(const EpochReport& report) {
  return report.train_seconds > 0 ? static_cast<double>(report.examples) / report.train_seconds : 0.0;
}

// ---- TensorBoard ----

TensorBoardSink::TensorBoardSink(const std::string& logdir) : writer_(logdir) {}

void TensorBoardSink::epoch(const EpochReport& r) {
  std::vector<std::pair<std::string, float>> values = {
      {"loss/train", static_cast<float>(r.train_loss)},
      {"accuracy/train", static_cast<float>(r.train_accuracy)},
  };
  if (r.validation_loss) values.emplace_back("loss/validation", static_cast<float>(*r.validation_loss));
  if (r.validation_accuracy) values.emplace_back("accuracy/validation", static_cast<float>(*r.validation_accuracy));
  if (r.test_loss) values.emplace_back("loss/test", static_cast<float>(*r.test_loss));
  if (r.test_accuracy) values.emplace_back("accuracy/test", static_cast<float>(*r.test_accuracy));
  values.emplace_back("learning_rate", static_cast<float>(r.learning_rate));
  values.emplace_back("examples_per_second", static_cast<float>(examples_per_second(r)));
  writer_.scalars(r.step, values);
}

void TensorBoardSink::steps(const StepReport& r) {
  const double rate = r.seconds > 0 ? static_cast<double>(r.examples) / r.seconds : 0.0;
  writer_.scalars(r.step, {{"steps/loss", static_cast<float>(r.train_loss)},
                           {"steps/accuracy", static_cast<float>(r.train_accuracy)},
                           {"steps/examples_per_second", static_cast<float>(rate)}});
}

// ---- CSV ----

CsvMetricsSink::CsvMetricsSink(const std::string& path) : path_(path), file_(open_for_writing(path)) {
  std::string header;
  for (const char* column : kMetricsColumns) header += (header.empty() ? "" : ",") + std::string(column);
  write_line(file_, path_, header + "\n");
}

CsvMetricsSink::~CsvMetricsSink() {
  if (file_) std::fclose(file_);
}

void CsvMetricsSink::epoch(const EpochReport& report) {
  std::string line;
  bool first = true;
  for (const auto& value : row(report)) {
    if (!first) line += ',';
    first = false;
    if (value) line += *value;
  }
  write_line(file_, path_, line + "\n");
}

// ---- JSON lines ----

JsonlMetricsSink::JsonlMetricsSink(const std::string& path) : path_(path), file_(open_for_writing(path)) {}

JsonlMetricsSink::~JsonlMetricsSink() {
  if (file_) std::fclose(file_);
}

void JsonlMetricsSink::epoch(const EpochReport& report) {
  const auto values = row(report);
  std::string line = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) line += ", ";
    line += '"' + std::string(kMetricsColumns[i]) + "\": ";
    const auto& v = values[i];
    // JSON has no NaN or infinity.
    const bool number = v && *v != "nan" && *v != "inf" && *v != "-inf";
    line += number ? *v : "null";
  }
  write_line(file_, path_, line + "}\n");
}

std::unique_ptr<MetricsSink> make_metrics_file_sink(const std::string& path) {
  const std::string ext = lower_extension(path);
  if (ext == ".csv") return std::make_unique<CsvMetricsSink>(path);
  if (ext == ".jsonl") return std::make_unique<JsonlMetricsSink>(path);
  throw Error("metrics file " + path + ": unknown format '" + ext + "' (use a .csv or .jsonl file name)");
}

bool is_metrics_file_name(const std::string& path) {
  const std::string ext = lower_extension(path);
  return ext == ".csv" || ext == ".jsonl";
}

// ---- MetricsLogger ----

MetricsLogger::MetricsLogger() : sinks_(std::make_shared<std::vector<std::unique_ptr<MetricsSink>>>()) {}

void MetricsLogger::add(std::unique_ptr<MetricsSink> sink) {
  if (sink) sinks_->push_back(std::move(sink));
}

std::string MetricsLogger::add_tensorboard(const std::string& logdir) {
  auto sink = std::make_unique<TensorBoardSink>(logdir);
  std::string path = sink->path();
  add(std::move(sink));
  return path;
}

void MetricsLogger::add_file(const std::string& path) { add(make_metrics_file_sink(path)); }

std::vector<std::string> MetricsLogger::paths() const {
  std::vector<std::string> out;
  for (const auto& s : *sinks_) out.push_back(s->path());
  return out;
}

void MetricsLogger::epoch(const EpochReport& report) const {
  for (const auto& s : *sinks_) s->epoch(report);
}

void MetricsLogger::steps(const StepReport& report) const {
  for (const auto& s : *sinks_) s->steps(report);
}

EpochCallback MetricsLogger::epoch_callback(EpochCallback then) const {
  return [logger = *this, then = std::move(then)](const EpochReport& report) {
    logger.epoch(report);
    if (then) then(report);
  };
}

StepCallback MetricsLogger::step_callback() const {
  return [logger = *this](const StepReport& report) { logger.steps(report); };
}

MetricsLogger make_epoch_logger(const std::string& logdir, const std::string& run) {
  MetricsLogger logger;
  if (!logdir.empty()) logger.add_tensorboard((std::filesystem::path(logdir) / run).string());
  return logger;
}

}  // namespace graft
