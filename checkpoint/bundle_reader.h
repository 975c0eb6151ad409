#pragma once
// Reading a TensorFlow V2 checkpoint ("tensor bundle"): the .index SSTable
// (leveldb::Table) of BundleEntryProtos and memory-mapped data shards.
// Every failure throws graft::Error naming the file (and tensor).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "checkpoint/tensor_info.h"

namespace graft {

struct BundleEntry {
  TensorInfo info;          // name exactly as stored
  int32_t shard = 0;
  int64_t offset = 0;
  int64_t size = 0;         // bytes in the data file
  uint32_t masked_crc32c = 0;
  bool sliced = false;      // a partitioned variable (listed, not readable)
};

class BundleReader {
 public:
  // `path` may be a prefix, any of its files (.index, .data-*, .meta), a
  // directory holding a `checkpoint` state file (resolved as TF does), or a
  // TF2 SavedModel directory (its variables/variables; path_resolution.h).
  static BundleReader open(const std::string& path);
  // The same, but a missing data file is not an error: its entries are
  // listed (names, dtypes, shapes from the index) and reading their bytes
  // throws, naming the file. What `graft inspect` of a damaged copy shows.
  static BundleReader open_index_only(const std::string& path);

  BundleReader(BundleReader&&) noexcept;
  BundleReader& operator=(BundleReader&&) noexcept;
  ~BundleReader();

  const std::string& prefix() const;
  // How the prefix was found, e.g. "using checkpoint prefix dir/model.ckpt
  // (from dir/checkpoint)". Empty when `path` was the prefix itself.
  const std::string& resolution_note() const;
  const std::string& index_path() const;  // prefix + ".index"
  int32_t num_shards() const;
  // The header says the numeric data is big-endian (read_float swaps it).
  bool big_endian() const;
  std::string shard_path(int32_t shard) const;
  // Data files that were not there (open_index_only); empty after open().
  const std::vector<std::string>& missing_shards() const;

  // All entries in key (bytewise) order, the header key excluded.
  const std::vector<BundleEntry>& entries() const;
  // Entries in the order their bytes appear in the data files (shard, offset):
  // the order TF's BundleWriter::Add was called in. Partitioned variables
  // (no bytes of their own) are left out.
  std::vector<const BundleEntry*> entries_in_data_order() const;
  const BundleEntry* find(const std::string& name) const;  // null if absent

  // The tensor's bytes in its data shard (mapped; valid while the reader
  // lives). Bounds are checked; the CRC is checked when verify is true.
  std::string_view raw_bytes(const BundleEntry& entry, bool verify = false) const;
  // Throws when the stored CRC32C does not match the bytes.
  void verify(const BundleEntry& entry) const;
  // Numeric tensors converted to float32 (float, double, half, bfloat16 and
  // integer types); throws for strings, bool and unknown dtypes.
  std::vector<float> read_float(const BundleEntry& entry, bool verify = true) const;
  void read_float_into(const BundleEntry& entry, float* dst, bool verify = true) const;
  // A DT_STRING tensor's elements.
  std::vector<std::string> read_strings(const BundleEntry& entry, bool verify = true) const;

 private:
  struct Impl;
  explicit BundleReader(std::unique_ptr<Impl> impl);
  static BundleReader open_impl(const std::string& path, bool allow_missing_data);
  std::unique_ptr<Impl> impl_;
};

}  // namespace graft
