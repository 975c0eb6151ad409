#pragma once
// A tensor's values for `graft inspect --tensor`: all of them when few, else
// the first and last few, plus min/max/mean for numbers. Each value carries
// its text and its JSON form.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace graft {

class BundleReader;
struct BundleEntry;

namespace cli {


struct ShownValue {
  std::string text;
  nlohmann::ordered_json json;
};

struct TensorValues {
  int64_t elements = 0;
  std::vector<ShownValue> head;  // all values when elements <= the limit
  std::vector<ShownValue> tail;  // empty unless values were left out
  std::optional<double> min, max, mean;
  int64_t nan_count = 0;
  std::string note;  // why values are not shown (e.g. complex dtypes)
};

// Reads (and checks the CRC of) the tensor. Shows every value when there are
// at most `all_limit`, else `edge` from each end.
TensorValues describe_values(const BundleReader& reader, const BundleEntry& entry,
                             std::size_t edge = 6, std::size_t all_limit = 20);

}  // namespace cli
}  // namespace graft
