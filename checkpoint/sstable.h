#pragma once
// The .index file is a LevelDB table. Reading goes through leveldb::Table
// with every block's checksum verified; writing through leveldb::TableBuilder
// with TF's options and TF's extra flush rule, so the bytes match TF's.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/file_io.h"

namespace graft::sstable {

// All (key, value) pairs of the table in `file`, in stored order. Throws
// graft::Error naming the file when it is not a valid table (too short, bad
// magic, checksum mismatch, corrupt block) or its keys are not strictly
// increasing.
std::vector<std::pair<std::string, std::string>> read_all(const file_io::MappedFile& file);

// Builds a table into an OutputFile. Keys must be added in strictly
// increasing bytewise order.
class Builder {
 public:
  explicit Builder(file_io::OutputFile& out);
  ~Builder();
  Builder(const Builder&) = delete;
  Builder& operator=(const Builder&) = delete;

  void add(const std::string& key, const std::string& value);
  void finish();  // writes the metaindex, index and footer

  static constexpr std::size_t kBlockSize = 262144;  // TF's table_options.h default

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace graft::sstable
