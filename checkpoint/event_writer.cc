#include "checkpoint/event_writer.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "checkpoint/crc32c.h"
#include "checkpoint/error.h"
#include "event.pb.h"

namespace graft {
namespace {

double now_seconds() {
  using namespace std::chrono;
  return duration_cast<duration<double>>(system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

void put_fixed64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_fixed32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

EventWriter::EventWriter(const std::string& logdir) {
  std::error_code ec;
  std::filesystem::create_directories(logdir, ec);
  if (ec) throw Error("cannot create log directory " + logdir + ": " + ec.message());
  const double now = now_seconds();
  char name[64];
  std::snprintf(name, sizeof(name), "events.out.tfevents.%010lld.", static_cast<long long>(now));
  path_ = (std::filesystem::path(logdir) / (name + host_name())).string();
  // Two writers started in the same second on the same host would collide;
  // TF has the same naming, so add a counter suffix TensorBoard still accepts.
  for (int i = 1; std::filesystem::exists(path_); ++i) {
    path_ = (std::filesystem::path(logdir) / (name + host_name() + "." + std::to_string(i))).string();
  }
  file_ = std::fopen(path_.c_str(), "wb");
  if (!file_) throw Error("cannot create event file " + path_ + ": " + std::strerror(errno));
  tf::Event event;
  event.set_wall_time(now);
  event.set_file_version("brain.Event:2");
  write_record(event.SerializeAsString());
}

EventWriter::~EventWriter() {
  if (file_) std::fclose(file_);
}

void EventWriter::scalars(int64_t step, const std::vector<std::pair<std::string, float>>& values) {
  tf::Event event;
  event.set_wall_time(now_seconds());
  event.set_step(step);
  auto* summary = event.mutable_summary();
  for (const auto& [tag, value] : values) {
    auto* v = summary->add_value();
    v->set_tag(tag);
    v->set_simple_value(value);
  }
  write_record(event.SerializeAsString());
}

void EventWriter::write_record(const std::string& data) {
  std::string header;
  put_fixed64(header, data.size());
  std::string record = header;
  put_fixed32(record, crc32c::mask(crc32c::value(header.data(), header.size())));
  record += data;
  put_fixed32(record, crc32c::mask(crc32c::value(data.data(), data.size())));
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size() ||
      std::fflush(file_) != 0) {
    throw Error("cannot write event file " + path_ + ": " + std::strerror(errno));
  }
}

}  // namespace graft
