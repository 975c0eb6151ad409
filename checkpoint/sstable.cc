#include "checkpoint/sstable.h"

#include <leveldb/env.h>
#include <leveldb/iterator.h>
#include <leveldb/options.h>
#include <leveldb/table.h>
#include <leveldb/table_builder.h>

#include <algorithm>
#include <cstring>

#include "checkpoint/crc32c.h"
#include "checkpoint/error.h"
#include "checkpoint/varint.h"

namespace graft::sstable {
namespace {

// leveldb reads the table through this view of the mapped file.
class MappedSource : public leveldb::RandomAccessFile {
 public:
  explicit MappedSource(const file_io::MappedFile& file) : file_(file) {}
  leveldb::Status Read(uint64_t offset, size_t n, leveldb::Slice* result,
                       char* /*scratch*/) const override {
    const auto bytes = file_.bytes();
    if (offset > bytes.size() || n > bytes.size() - offset) {
      *result = leveldb::Slice();
      return leveldb::Status::Corruption("read past the end of the file");
    }
    *result = leveldb::Slice(bytes.data() + offset, n);
    return leveldb::Status::OK();
  }

 private:
  const file_io::MappedFile& file_;
};

// leveldb writes the table through this, so fault injection reaches it.
class OutputSink : public leveldb::WritableFile {
 public:
  explicit OutputSink(file_io::OutputFile& out) : out_(out) {}
  leveldb::Status Append(const leveldb::Slice& data) override {
    try {
      out_.write(data.data(), data.size());
    } catch (const Error& e) {
      error = e.what();
      return leveldb::Status::IOError(e.what());
    }
    return leveldb::Status::OK();
  }
  // Syncing and closing are the caller's job (OutputFile).
  leveldb::Status Close() override { return leveldb::Status::OK(); }
  leveldb::Status Flush() override { return leveldb::Status::OK(); }
  leveldb::Status Sync() override { return leveldb::Status::OK(); }

  std::string error;  // the graft::Error text of the first failed write

 private:
  file_io::OutputFile& out_;
};

std::string describe(const leveldb::Status& s) {
  std::string text = s.ToString();
  // leveldb's own wording for the common cases, made self-explanatory.
  if (text.find("too short") != std::string::npos) return "truncated index (too short to be a table)";
  if (text.find("bad magic") != std::string::npos) return "not a checkpoint index (wrong magic number)";
  if (text.find("checksum mismatch") != std::string::npos) return "corrupt index block (checksum mismatch)";
  return "corrupt index: " + text;
}

struct Handle {
  uint64_t offset = 0;
  uint64_t size = 0;
};

bool get_handle(std::string_view in, std::size_t& pos, Handle& h) {
  return get_varint64(in, pos, h.offset) && get_varint64(in, pos, h.size);
}

// leveldb allocates a snappy-compressed block's claimed uncompressed size
// before decompressing it (ReadBlock in table/format.cc), so a crafted length
// in the block's first varint asked for gigabytes (found by fuzz_index).
// Snappy expands at most about 21x (a 3-byte copy emits at most 64 bytes), so
// anything claiming more than 32x its compressed size is refused here.
void check_compressed_length(const file_io::MappedFile& file, const Handle& h) {
  const std::string_view bytes = file.bytes();
  if (h.offset > bytes.size() || h.size >= bytes.size() - h.offset) return;  // no type byte: leveldb reports it
  if (static_cast<unsigned char>(bytes[h.offset + h.size]) != 1) return;      // not snappy
  std::size_t pos = 0;
  uint64_t claimed = 0;
  const std::string_view block = bytes.substr(h.offset, h.size);
  if (!get_varint64(block.substr(0, std::min<std::size_t>(block.size(), 5)), pos, claimed) ||
      claimed > 32 * h.size + 64) {
    throw Error(file.path() + ": corrupt index: the compressed block at offset " + std::to_string(h.offset) +
                " claims an impossible uncompressed size");
  }
}

// leveldb allocates a block's size before reading it, so every block handle
// (the footer's two, then the index block's) must lie inside the file.
// Returns the index block's handle.
Handle check_footer(const file_io::MappedFile& file) {
  constexpr std::size_t kFooter = 48;
  const std::string_view bytes = file.bytes();
  Handle meta, index;
  if (bytes.size() < kFooter) return index;  // leveldb reports "too short"
  const std::string_view footer = bytes.substr(bytes.size() - kFooter, 40);
  std::size_t pos = 0;
  for (Handle* h : {&meta, &index}) {
    if (!get_handle(footer, pos, *h) || h->offset > bytes.size() || h->size > bytes.size() - h->offset) {
      throw Error(file.path() + ": corrupt index: its footer points outside the file");
    }
  }
  check_compressed_length(file, index);
  return index;
}

// leveldb 1.23 adds an entry's non-shared key length and value length in 32
// bits before comparing them with the rest of the block (DecodeEntry in
// table/block.cc), so a crafted entry whose lengths wrap around is accepted
// and its key is copied from far past the block (a 4 GiB allocation and an
// out-of-bounds read, found by fuzz_index). Every block whose checksum is
// valid is therefore walked here first, in 64-bit arithmetic; a block with a
// bad checksum is left to leveldb, which reports the mismatch. Calls
// on_value(value) for each entry.
template <typename OnValue>
void check_block_entries(const file_io::MappedFile& file, const Handle& h, OnValue on_value) {
  const std::string_view bytes = file.bytes();
  constexpr std::size_t kTrailer = 5;  // type byte + masked crc32c
  if (h.offset > bytes.size() || h.size > bytes.size() - h.offset ||
      bytes.size() - h.offset - h.size < kTrailer) {
    throw Error(file.path() + ": corrupt index: a block is larger than the file");
  }
  const std::string_view block = bytes.substr(h.offset, h.size);
  const auto type = static_cast<unsigned char>(bytes[h.offset + h.size]);
  uint32_t stored;
  std::memcpy(&stored, bytes.data() + h.offset + h.size + 1, 4);
  const uint32_t actual = crc32c::mask(crc32c::extend(crc32c::value(block.data(), block.size()), &type, 1));
  // Compressed (type 1, very old TF) or damaged blocks: leveldb decides.
  if (type != 0 || stored != actual) return;
  const auto malformed = [&] {
    return Error(file.path() + ": corrupt index: malformed entry in the block at offset " + std::to_string(h.offset));
  };
  if (block.size() < 4) throw malformed();
  uint32_t restarts;
  std::memcpy(&restarts, block.data() + block.size() - 4, 4);
  if (restarts > (block.size() - 4) / 4) throw malformed();
  const std::string_view entries = block.substr(0, block.size() - 4 - 4 * std::size_t{restarts});
  std::size_t pos = 0;
  uint64_t previous_key = 0;
  while (pos < entries.size()) {
    uint64_t shared, non_shared, value_len;
    if (!get_varint64(entries, pos, shared) || !get_varint64(entries, pos, non_shared) ||
        !get_varint64(entries, pos, value_len) || shared > previous_key || non_shared > entries.size() - pos ||
        value_len > entries.size() - pos - non_shared) {
      throw malformed();
    }
    pos += non_shared;
    on_value(entries.substr(pos, value_len));
    pos += value_len;
    previous_key = shared + non_shared;
  }
}

// Walks the index block (already checksum-verified by Table::Open) and every
// data block it points to.
void check_data_handles(const file_io::MappedFile& file, const Handle& index) {
  check_block_entries(file, index, [&](std::string_view value) {
    std::size_t vpos = 0;
    Handle h;
    if (!get_handle(value, vpos, h)) return;  // leveldb reports it
    check_compressed_length(file, h);
    check_block_entries(file, h, [](std::string_view) {});
  });
}

}  // namespace

std::vector<std::pair<std::string, std::string>> read_all(const file_io::MappedFile& file) {
  const Handle index = check_footer(file);
  MappedSource source(file);
  leveldb::Options options;
  options.paranoid_checks = true;  // verify the index block's checksum on open
  leveldb::Table* raw = nullptr;
  leveldb::Status s = leveldb::Table::Open(options, &source, file.size(), &raw);
  if (!s.ok()) throw Error(file.path() + ": " + describe(s));
  std::unique_ptr<leveldb::Table> table(raw);
  check_data_handles(file, index);

  leveldb::ReadOptions read_options;
  read_options.verify_checksums = true;
  read_options.fill_cache = false;
  std::unique_ptr<leveldb::Iterator> it(table->NewIterator(read_options));
  std::vector<std::pair<std::string, std::string>> rows;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string key = it->key().ToString();
    if (!rows.empty() && !(rows.back().first < key)) {
      throw Error(file.path() + ": corrupt index: keys out of order at \"" + key + "\"");
    }
    rows.emplace_back(std::move(key), it->value().ToString());
  }
  if (!it->status().ok()) throw Error(file.path() + ": " + describe(it->status()));
  return rows;
}

struct Builder::Impl {
  explicit Impl(file_io::OutputFile& out) : sink(out), builder(make_options(), &sink) {}
  static leveldb::Options make_options() {
    leveldb::Options o;
    o.block_size = kBlockSize;
    o.block_restart_interval = 16;
    o.compression = leveldb::kNoCompression;
    o.filter_policy = nullptr;
    return o;
  }
  void check() {
    if (!builder.status().ok()) {
      throw Error(sink.error.empty() ? builder.status().ToString() : sink.error);
    }
  }
  OutputSink sink;
  leveldb::TableBuilder builder;
  bool done = false;
};

Builder::Builder(file_io::OutputFile& out) : impl_(std::make_unique<Impl>(out)) {}

Builder::~Builder() {
  if (!impl_->done) impl_->builder.Abandon();
}

void Builder::add(const std::string& key, const std::string& value) {
  // TF's table builder (unlike leveldb's) closes the open block before an
  // entry of at least two blocks' size, so that entry starts a block.
  if (impl_->builder.NumEntries() > 0 && key.size() + value.size() >= 2 * kBlockSize) {
    impl_->builder.Flush();
  }
  impl_->builder.Add(key, value);
  impl_->check();
}

void Builder::finish() {
  impl_->done = true;
  const leveldb::Status s = impl_->builder.Finish();
  if (!s.ok()) throw Error(impl_->sink.error.empty() ? s.ToString() : impl_->sink.error);
}

}  // namespace graft::sstable
