#pragma once
// A second, deliberately separate reader of .index files for the tests: it
// parses the SSTable footer, blocks and varints and the BundleEntryProto
// fields by hand (format spec §1-§5), sharing no code with graft_checkpoint.
#include <cstdint>
#include <string>
#include <vector>

namespace graft::test {

struct RawBlockHandle {
  uint64_t offset = 0;
  uint64_t size = 0;
};

struct RawEntry {
  std::string key;
  std::string value;  // serialized proto
  int dtype = 0;
  std::vector<int64_t> shape;
  int shard = 0;
  int64_t offset = 0;
  int64_t size = 0;
  uint32_t crc = 0;
  bool has_slices = false;
};

struct RawIndex {
  std::vector<RawBlockHandle> data_blocks;
  std::vector<std::string> index_keys;  // one per data block
  std::vector<std::vector<std::string>> block_keys;  // keys per data block
  std::string header;                   // value of key ""
  std::vector<RawEntry> entries;        // every other key, stored order
};

// Throws std::runtime_error on anything malformed.
RawIndex read_index_independently(const std::string& index_path);

}  // namespace graft::test
