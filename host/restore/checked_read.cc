#include "host/restore/checked_read.h"

#include <cmath>
#include <string>

#include "checkpoint/error.h"
#include "checkpoint/printable.h"

namespace graft {

std::vector<float> read_checked_float(const BundleReader& reader, const BundleEntry& entry) {
  const std::string name = printable(entry.info.name);
  if (entry.info.dtype != DType::kFloat) {
    throw Error(reader.prefix() + ": tensor '" + name + "' is " + dtype_name(entry.info.dtype) +
                "; the model's variables are float32 and graft converts no other dtype");
  }
  std::vector<float> values = reader.read_float(entry);
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      throw Error(reader.prefix() + ": tensor '" + name + "' holds " + (std::isnan(values[i]) ? "NaN" : "Inf") +
                  " at element " + std::to_string(i) + " of " + std::to_string(values.size()) +
                  "; refusing to load it");
    }
  }
  return values;
}

}  // namespace graft
