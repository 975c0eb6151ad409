#pragma once
// Caching the frozen layers: when the lowest k layers of a model are frozen
// (kernel and bias), their outputs never change, so they are computed once
// for the training, validation and test rows (Backend::forward_prefix) and
// the trainer runs layers k.. on those outputs (TrainingData::first_layer =
// k). Same seed, same shuffles, same batches: the result equals training
// through the frozen layers, up to float rounding.
//
// The cache costs rows x (width of layer k-1's output) floats of the
// backend's memory. decide_frozen_cache checks that against a limit before
// anything is computed and falls back to the uncached path (saying so) when
// it would not fit.
//
//   PreparedData data = prepare_training_data(backend, trainer.spec(), dataset, {});
//   std::puts(data.cache.note.c_str());
//   trainer.fit(data.view());
#include <cstdint>
#include <memory>
#include <string>

#include "host/backend.h"
#include "host/data/dataset.h"
#include "host/model/model_spec.h"
#include "host/train/trainer.h"

namespace graft {

struct FrozenCacheOptions {
  bool enabled = true;      // false: always train through the frozen layers (--no-cache)
  int64_t limit_bytes = 0;  // 0: default_cache_limit(backend.memory())
};

// The default limit: 25% of physical RAM for a backend whose data lives in
// host memory; 50% of the free device memory for a GPU. When the sizes are
// unknown: 1 GiB.
int64_t default_cache_limit(const BackendMemory& memory);
// "25% of RAM (15.6 GiB)", "50% of free GPU memory (79.1 GiB)".
std::string default_cache_limit_basis(const BackendMemory& memory);

// k: the number of lowest nodes with nothing trained or updated (dense:
// kernel and bias frozen; batch norm: every leaf frozen, statistics
// included; dropout: none, it is the identity in the prefix).
int frozen_prefix_layers(const ModelSpec& spec);

struct FrozenCacheDecision {
  int frozen_layers = 0;  // k (frozen_prefix_layers)
  int first_layer = 0;    // k when the cache is used, else 0
  int64_t width = 0;      // floats per cached row (fan_out of layer k-1)
  int64_t bytes = 0;      // estimated size of the cached sets
  int64_t limit = 0;      // bytes allowed
  std::string limit_basis;
  std::string note;       // one line for the user; empty when nothing is frozen
};

// Pure: what prepare_training_data will do for `rows` rows (all splits).
// The cache is used when k > 0, it is enabled and the estimate fits the
// limit; it never covers every layer (something must be trainable).
FrozenCacheDecision decide_frozen_cache(const ModelSpec& spec, int64_t rows, const FrozenCacheOptions& options,
                                        const BackendMemory& memory);

struct FrozenCacheReport {
  int frozen_layers = 0;
  bool used = false;
  int64_t bytes = 0;    // of the cached data sets (measured when used, else the estimate)
  int64_t limit = 0;
  double seconds = 0;   // computing the cache
  std::string note;     // one line for the user; empty when nothing is frozen
};

// Data sets in the backend, ready for Trainer::fit(view()).
struct PreparedData {
  std::unique_ptr<DeviceDataset> train, validation, test;  // validation/test may be null
  int first_layer = 0;
  FrozenCacheReport cache;
  TrainingData view() const;
};

// Uploads the splits of `data` (empty ones stay null), and, when the
// decision says so, replaces them by the frozen layers' outputs. Call it
// after the frozen variables hold their final (restored) values. Throws
// graft::Error when the data does not fit the model (features, classes).
PreparedData prepare_training_data(Backend& backend, const ModelSpec& spec, const Dataset& data,
                                   const FrozenCacheOptions& options = {});

// "2G", "512M", "1.5GiB", "100k", "12345" (bytes; K/M/G/T are powers of
// 1024, an optional trailing "B" or "iB"). Throws graft::Error otherwise.
int64_t parse_byte_size(const std::string& text);
// "13.4 MiB", "2.0 GiB", "512 B".
std::string format_bytes(int64_t bytes);

}  // namespace graft
