#include "host/train/frozen_cache.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

#include "checkpoint/error.h"

namespace graft {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;

// "hidden1", "hidden1..hidden3".
std::string layer_range(const ModelSpec& spec, int begin, int end) {
  const std::string& first = spec.layers[static_cast<std::size_t>(begin)].name;
  if (end - begin == 1) return first;
  return first + ".." + spec.layers[static_cast<std::size_t>(end - 1)].name;
}

// Bytes a cached data set of `rows` x `width` takes: features, labels and
// the row order (what CpuDataset::bytes reports).
int64_t cached_bytes(int64_t rows, int64_t width) {
  return rows * (width * static_cast<int64_t>(sizeof(float)) + static_cast<int64_t>(sizeof(int32_t) + sizeof(uint32_t)));
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

int64_t default_cache_limit(const BackendMemory& memory) {
  if (memory.kind == "RAM") return memory.total_bytes > 0 ? memory.total_bytes / 4 : kGiB;
  return memory.available_bytes > 0 ? memory.available_bytes / 2 : kGiB;
}

std::string default_cache_limit_basis(const BackendMemory& memory) {
  if (memory.kind == "RAM") {
    return memory.total_bytes > 0 ? "25% of RAM (" + format_bytes(memory.total_bytes) + ")" : "RAM size unknown";
  }
  return memory.available_bytes > 0
             ? "50% of free " + memory.kind + " (" + format_bytes(memory.available_bytes) + ")"
             : memory.kind + " size unknown";
}

int frozen_prefix_layers(const ModelSpec& spec) {
  int k = 0;
  // A node with anything trained or updated ends the prefix; dropout (no
  // variables) inside it is the identity there, as the step plan runs it
  // (host/step_plan.h), and batch norm with frozen statistics runs in
  // inference form.
  for (const LayerSpec& l : spec.layers) {
    bool active = false;
    for (ParamRole role : node_roles(l.shape())) active = active || l.leaf_trainable(role);
    if (active) break;
    ++k;
  }
  return k;
}

FrozenCacheDecision decide_frozen_cache(const ModelSpec& spec, int64_t rows, const FrozenCacheOptions& options,
                                        const BackendMemory& memory) {
  FrozenCacheDecision d;
  // Every layer frozen leaves nothing to train (the trainer says so); the
  // cache stops below the top layer either way.
  d.frozen_layers = std::min(frozen_prefix_layers(spec), static_cast<int>(spec.layers.size()) - 1);
  if (d.frozen_layers <= 0) {
    d.frozen_layers = 0;
    return d;
  }
  const int k = d.frozen_layers;
  const std::string frozen = layer_range(spec, 0, k);
  const std::string above = layer_range(spec, k, static_cast<int>(spec.layers.size()));
  const char* verb = k == 1 ? "is" : "are";
  d.width = spec.layers[static_cast<std::size_t>(k - 1)].fan_out;
  d.bytes = cached_bytes(rows, d.width);
  if (options.limit_bytes > 0) {
    d.limit = options.limit_bytes;
    d.limit_basis = "--cache-limit";
  } else {
    d.limit = default_cache_limit(memory);
    d.limit_basis = default_cache_limit_basis(memory);
  }
  const std::string top = spec.layers[static_cast<std::size_t>(k - 1)].name;
  const std::string size = std::to_string(rows) + " rows x " + std::to_string(d.width) + " floats, " +
                           format_bytes(d.bytes) + " of " + (memory.kind.empty() ? "memory" : memory.kind);
  const std::string head = "frozen-layer cache: " + frozen + " " + verb + " frozen";
  if (!options.enabled) {
    d.note = head + "; cache off (--no-cache): every step runs through " + (k == 1 ? "it" : "them");
    return d;
  }
  if (d.bytes > d.limit) {
    d.note = head + ", but caching " + top + "'s output (" + size + ") would exceed the limit of " +
             format_bytes(d.limit) + " (" + d.limit_basis + "); falling back to training through the frozen layers";
    return d;
  }
  d.first_layer = k;
  d.note = head + "; " + top + "'s output is computed once and cached (" + size + "; limit " + format_bytes(d.limit) +
           ", " + d.limit_basis + "); training " + above + " from the cache";
  return d;
}

TrainingData PreparedData::view() const {
  TrainingData d;
  d.train = train.get();
  d.validation = validation.get();
  d.test = test.get();
  d.first_layer = first_layer;
  return d;
}

PreparedData prepare_training_data(Backend& backend, const ModelSpec& spec, const Dataset& data,
                                   const FrozenCacheOptions& options) {
  if (data.train.rows == 0) throw Error("no training rows");
  for (const DataSplit* s : {&data.train, &data.validation, &data.test}) {
    if (s->rows > 0 && s->cols != spec.inputs()) {
      throw Error("the data has " + std::to_string(s->cols) + " features, the model takes " +
                  std::to_string(spec.inputs()) + " inputs");
    }
  }
  if (data.num_classes > spec.outputs()) {
    throw Error("the data has " + std::to_string(data.num_classes) + " classes, the model only " +
                std::to_string(spec.outputs()) + " outputs");
  }
  PreparedData out;
  auto upload = [&](const DataSplit& s) -> std::unique_ptr<DeviceDataset> {
    if (s.rows == 0) return nullptr;
    return backend.upload(s.features.data(), s.labels.data(), s.rows, s.cols);
  };
  out.train = upload(data.train);
  out.validation = upload(data.validation);
  out.test = upload(data.test);

  const int64_t rows = data.train.rows + data.validation.rows + data.test.rows;
  // Asked after the upload, so a GPU's free memory already excludes the data.
  const FrozenCacheDecision decision = decide_frozen_cache(spec, rows, options, backend.memory());
  out.cache.frozen_layers = decision.frozen_layers;
  out.cache.bytes = decision.bytes;
  out.cache.limit = decision.limit;
  out.cache.note = decision.note;
  if (decision.first_layer == 0) return out;

  const auto start = std::chrono::steady_clock::now();
  const int k = decision.first_layer;
  int64_t bytes = 0;
  for (std::unique_ptr<DeviceDataset>* set : {&out.train, &out.validation, &out.test}) {
    if (!*set) continue;
    std::unique_ptr<DeviceDataset> cached = backend.forward_prefix(**set, k);
    bytes += cached->bytes();
    *set = std::move(cached);  // the raw rows are not needed any more
  }
  out.first_layer = k;
  out.cache.used = true;
  out.cache.bytes = bytes;
  out.cache.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out.cache.note += " [" + format_bytes(bytes) + " computed in " + fixed(out.cache.seconds, 2) + " s]";
  return out;
}

int64_t parse_byte_size(const std::string& text) {
  const auto bad = [&] {
    return Error("--cache-limit '" + text + "': expected a size such as 2G, 512M, 1.5GiB or a number of bytes");
  };
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == 0) throw bad();
  double value = 0;
  try {
    std::size_t used = 0;
    value = std::stod(text.substr(0, i), &used);
    if (used != i) throw bad();
  } catch (const std::logic_error&) {
    throw bad();
  }
  std::string unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  double scale = 1;
  if (!unit.empty()) {
    const std::string units = "KMGT";
    const auto u = units.find(unit[0]);
    std::string rest = unit;
    if (u != std::string::npos) {
      scale = std::pow(1024.0, static_cast<double>(u + 1));
      rest = unit.substr(1);
    }
    if (!(rest.empty() || rest == "B" || (u != std::string::npos && rest == "IB"))) throw bad();
  }
  const double bytes = value * scale;
  if (!(bytes >= 1) || bytes > static_cast<double>(std::numeric_limits<int64_t>::max() / 2)) throw bad();
  return static_cast<int64_t>(bytes);
}

std::string format_bytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? std::to_string(bytes) + " B" : fixed(v, 1) + " " + units[u];
}

}  // namespace graft
