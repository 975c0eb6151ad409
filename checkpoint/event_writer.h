#pragma once
// A TensorBoard event file writer: TFRecord framing (length, masked CRC32C of
// the length, data, masked CRC32C of the data) around Event protos. The first
// record is file_version "brain.Event:2", as TensorFlow writes. Each write is
// flushed so a running TensorBoard sees it.
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace graft {

class EventWriter {
 public:
  // Creates `logdir` (and parents) and the file
  // logdir/events.out.tfevents.<10-digit unix seconds>.<hostname>.
  explicit EventWriter(const std::string& logdir);
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  // One Event carrying one or more scalar values at `step`.
  void scalars(int64_t step, const std::vector<std::pair<std::string, float>>& values);
  void scalar(int64_t step, const std::string& tag, float value) { scalars(step, {{tag, value}}); }

  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& data);

  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace graft
