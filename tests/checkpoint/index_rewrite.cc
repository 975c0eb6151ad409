#include "tests/checkpoint/index_rewrite.h"

#include <stdexcept>

#include "checkpoint/file_io.h"
#include "checkpoint/sstable.h"
#include "tests/checkpoint/independent_reader.h"

namespace graft::test {

IndexContents load_index(const std::string& index_path) {
  const RawIndex raw = read_index_independently(index_path);
  IndexContents c;
  if (!c.header.ParseFromString(raw.header)) throw std::runtime_error("bad header");
  for (const auto& e : raw.entries) {
    if (!c.entries[e.key].ParseFromString(e.value)) throw std::runtime_error("bad entry " + e.key);
  }
  return c;
}

void save_index(const std::string& index_path, const IndexContents& contents) {
  file_io::OutputFile out(index_path);
  sstable::Builder table(out);
  if (contents.has_header) table.add("", contents.header.SerializeAsString());
  for (const auto& [key, entry] : contents.entries) table.add(key, entry.SerializeAsString());
  table.finish();
  out.close();
}

void edit_index(const std::string& index_path, const std::function<void(IndexContents&)>& edit) {
  IndexContents c = load_index(index_path);
  edit(c);
  save_index(index_path, c);
}

}  // namespace graft::test
