#include "host/backend.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "checkpoint/error.h"

namespace graft {

BackendMemory host_memory() {
  BackendMemory m;
  m.kind = "RAM";
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) m.total_bytes = static_cast<int64_t>(pages) * page;
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream in(line.substr(13));
    int64_t kib = 0;
    if (in >> kib) m.available_bytes = kib * 1024;
    break;
  }
  if (m.available_bytes == 0) {
    const long avail = ::sysconf(_SC_AVPHYS_PAGES);
    if (avail > 0 && page > 0) m.available_bytes = static_cast<int64_t>(avail) * page;
  }
  return m;
}

void Backend::set_regularization(const std::vector<ParamRegularizer>& per_param) {
  if (any_regularizer(per_param)) throw Error(description() + " has no L1/L2 regularization or max-norm");
}

}  // namespace graft
