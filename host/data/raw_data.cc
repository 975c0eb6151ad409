#include "host/data/raw_data.h"

#include <fmt/format.h>

#include "checkpoint/error.h"

namespace graft {

std::string byte_size_text(int64_t bytes) {
  if (bytes >= (int64_t{1} << 30)) return fmt::format("{:.1f} GiB", static_cast<double>(bytes) / (1 << 30));
  if (bytes >= (int64_t{1} << 20)) return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
  return fmt::format("{} bytes", bytes);
}

void check_data_size(int64_t bytes, const DataLimits& limits, const std::string& origin, const std::string& what) {
  if (bytes < 0 || bytes > limits.max_bytes) {
    throw Error(fmt::format("{}: {} need {} ({} bytes), more than the data memory limit of {} (--max-data-memory)",
                            origin, what, byte_size_text(bytes), bytes, byte_size_text(limits.max_bytes)));
  }
}

}  // namespace graft
