#pragma once
// Rewriting a checkpoint's .index with edited protos but valid block crcs, so
// tests can present the reader with well-formed tables holding bad entries.
#include <functional>
#include <map>
#include <string>

#include "tensor_bundle.pb.h"

namespace graft::test {

struct IndexContents {
  graft::tf::BundleHeaderProto header;
  bool has_header = true;
  std::map<std::string, graft::tf::BundleEntryProto> entries;
};

// Parses `index_path` (with the independent reader).
IndexContents load_index(const std::string& index_path);
// Writes a table with the header (when has_header) and entries.
void save_index(const std::string& index_path, const IndexContents& contents);
// load_index, edit, save_index.
void edit_index(const std::string& index_path, const std::function<void(IndexContents&)>& edit);

}  // namespace graft::test
