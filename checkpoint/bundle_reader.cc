#include "checkpoint/bundle_reader.h"

#include <algorithm>
#include <map>

#include "checkpoint/convert.h"
#include "checkpoint/crc32c.h"
#include "checkpoint/error.h"
#include "checkpoint/file_io.h"
#include "checkpoint/path_resolution.h"
#include "checkpoint/sstable.h"
#include "checkpoint/string_tensor.h"
#include "tensor_bundle.pb.h"

namespace graft {
namespace {

constexpr int kBundleVersion = 1;  // TF's kTensorBundleVersion (what we consume)

std::string quoted(const std::string& name) { return "tensor '" + name + "'"; }

void check_header(const tf::BundleHeaderProto& h, const std::string& index_path) {
  if (h.num_shards() < 1) {
    throw Error(index_path + ": invalid header: num_shards is " + std::to_string(h.num_shards()));
  }
  const auto& v = h.version();
  if (v.producer() < 0) {
    throw Error(index_path + ": checkpoint producer version " + std::to_string(v.producer()) +
                " is older than any supported");
  }
  if (v.min_consumer() > kBundleVersion) {
    throw Error(index_path + ": checkpoint needs a reader of version >= " +
                std::to_string(v.min_consumer()) + " (graft reads version 1)");
  }
  for (int bad : v.bad_consumers()) {
    if (bad == kBundleVersion) throw Error(index_path + ": checkpoint disallows reader version 1");
  }
}

}  // namespace

struct BundleReader::Impl {
  std::string prefix;
  std::string note;
  std::string index_path;
  int32_t num_shards = 1;
  bool big_endian = false;
  std::vector<BundleEntry> entries;
  // Shards that hold an entry, by id. A map: num_shards comes from the file
  // and may be up to 2^31-1 without a single entry there.
  std::map<int32_t, std::unique_ptr<file_io::MappedFile>> shards;

  [[noreturn]] void fail(const std::string& name, const std::string& what) const {
    throw Error(index_path + ": " + quoted(name) + ": " + what);
  }
  void load_entry(const std::string& name, const std::string& value);
  // Data files the index names that are not there (open_index_only).
  std::vector<std::string> missing;
  void map_shards(bool allow_missing);
  const file_io::MappedFile& shard(const BundleEntry& e) const;
};

void BundleReader::Impl::load_entry(const std::string& name, const std::string& value) {
  tf::BundleEntryProto proto;
  if (!proto.ParseFromString(value)) fail(name, "corrupt entry (not a BundleEntryProto)");
  BundleEntry e;
  e.info.name = name;
  if (!dtype_is_known(proto.dtype())) fail(name, "unknown dtype " + std::to_string(proto.dtype()));
  e.info.dtype = static_cast<DType>(proto.dtype());
  if (proto.shape().unknown_rank()) fail(name, "shape of unknown rank");
  for (const auto& dim : proto.shape().dim()) e.info.shape.push_back(dim.size());
  int64_t elements = 0;
  try {
    elements = shape_elements(e.info.shape);
  } catch (const Error& err) {
    fail(name, err.what());
  }
  e.sliced = proto.slices_size() > 0;
  e.shard = proto.shard_id();
  e.offset = proto.offset();
  e.size = proto.size();
  e.masked_crc32c = proto.crc32c();
  if (!e.sliced) {
    if (e.shard < 0 || e.shard >= num_shards) {
      fail(name, "shard id " + std::to_string(e.shard) + " is outside the " +
                     std::to_string(num_shards) + " shard(s) of the header");
    }
    if (e.offset < 0 || e.size < 0) fail(name, "negative offset or size");
    if (e.info.dtype == DType::kString) {
      // At least one varint byte per element plus the 4-byte length crc.
      if (e.size < elements || e.size - elements < 4) {
        fail(name, "size " + std::to_string(e.size) + " is too small for " +
                       std::to_string(elements) + " strings");
      }
    } else {
      int64_t expected;
      if (__builtin_mul_overflow(elements, static_cast<int64_t>(dtype_size(e.info.dtype)), &expected) ||
          expected != e.size) {
        fail(name, "size " + std::to_string(e.size) + " bytes disagrees with shape " +
                       shape_string(e.info.shape) + " of " + dtype_name(e.info.dtype));
      }
    }
  }
  entries.push_back(std::move(e));
}

void BundleReader::Impl::map_shards(bool allow_missing) {
  for (const auto& e : entries) {
    if (e.sliced) continue;
    const std::string path = data_file_name(prefix, e.shard, num_shards);
    if (allow_missing && std::find(missing.begin(), missing.end(), path) != missing.end()) continue;
    auto& slot = shards[e.shard];
    if (!slot) {
      if (!file_io::exists(path)) {
        if (allow_missing) {
          shards.erase(e.shard);
          missing.push_back(path);
          continue;
        }
        throw Error("missing data shard " + path + " (holds " + quoted(e.info.name) + ")");
      }
      slot = std::make_unique<file_io::MappedFile>(path);
    }
    const auto shard_size = static_cast<int64_t>(slot->size());
    if (e.offset > shard_size || e.size > shard_size - e.offset) {
      throw Error(path + ": " + quoted(e.info.name) + ": bytes [" + std::to_string(e.offset) + ", " +
                  std::to_string(static_cast<uint64_t>(e.offset) + static_cast<uint64_t>(e.size)) +
                  ") lie beyond the end of the file (" +
                  std::to_string(shard_size) + " bytes): truncated data file");
    }
  }
}

const file_io::MappedFile& BundleReader::Impl::shard(const BundleEntry& e) const {
  if (e.sliced) fail(e.info.name, "a partitioned variable; its data is stored in slices");
  const auto it = shards.find(e.shard);
  if (it == shards.end() || !it->second) {
    fail(e.info.name, "its data shard " + data_file_name(prefix, e.shard, num_shards) + " is missing");
  }
  const auto& file = *it->second;
  if (e.offset < 0 || e.size < 0 || e.offset > static_cast<int64_t>(file.size()) ||
      e.size > static_cast<int64_t>(file.size()) - e.offset) {
    fail(e.info.name, "bytes lie beyond the end of " + file.path());
  }
  return file;
}

BundleReader BundleReader::open(const std::string& path) { return open_impl(path, false); }
BundleReader BundleReader::open_index_only(const std::string& path) { return open_impl(path, true); }

BundleReader BundleReader::open_impl(const std::string& path, bool allow_missing_data) {
  auto impl = std::make_unique<Impl>();
  ResolvedPrefix resolved = resolve_checkpoint_path(path);
  impl->prefix = std::move(resolved.prefix);
  impl->note = std::move(resolved.note);
  impl->index_path = index_file_name(impl->prefix);

  const file_io::MappedFile index(impl->index_path);
  // Every row of the index is copied out of the mapping: refuse a size no
  // real index has (1 GiB is ~10 million variables) before doing so.
  constexpr std::size_t kMaxIndexBytes = std::size_t{1} << 30;
  if (index.size() > kMaxIndexBytes) {
    throw Error(impl->index_path + ": " + std::to_string(index.size()) + " bytes, more than the " +
                std::to_string(kMaxIndexBytes) + " an index may have");
  }
  const auto rows = sstable::read_all(index);
  if (rows.empty() || !rows.front().first.empty()) {
    throw Error(impl->index_path + ": no header entry (not a tensor bundle index)");
  }
  tf::BundleHeaderProto header;
  if (!header.ParseFromString(rows.front().second)) {
    throw Error(impl->index_path + ": corrupt header (not a BundleHeaderProto)");
  }
  check_header(header, impl->index_path);
  impl->num_shards = header.num_shards();
  impl->big_endian = header.endianness() == tf::BundleHeaderProto::BIG;

  impl->entries.reserve(rows.size() - 1);
  for (std::size_t i = 1; i < rows.size(); ++i) impl->load_entry(rows[i].first, rows[i].second);
  impl->map_shards(allow_missing_data);
  return BundleReader(std::move(impl));
}

BundleReader::BundleReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BundleReader::BundleReader(BundleReader&&) noexcept = default;
BundleReader& BundleReader::operator=(BundleReader&&) noexcept = default;
BundleReader::~BundleReader() = default;

const std::string& BundleReader::prefix() const { return impl_->prefix; }
const std::string& BundleReader::resolution_note() const { return impl_->note; }
const std::string& BundleReader::index_path() const { return impl_->index_path; }
int32_t BundleReader::num_shards() const { return impl_->num_shards; }
bool BundleReader::big_endian() const { return impl_->big_endian; }
std::string BundleReader::shard_path(int32_t shard) const {
  return data_file_name(impl_->prefix, shard, impl_->num_shards);
}
const std::vector<BundleEntry>& BundleReader::entries() const { return impl_->entries; }
const std::vector<std::string>& BundleReader::missing_shards() const { return impl_->missing; }

std::vector<const BundleEntry*> BundleReader::entries_in_data_order() const {
  std::vector<const BundleEntry*> order;
  for (const auto& e : impl_->entries) {
    if (!e.sliced) order.push_back(&e);
  }
  // Ties at one offset: an empty tensor there was added before the tensor
  // whose bytes start there.
  std::stable_sort(order.begin(), order.end(), [](const BundleEntry* a, const BundleEntry* b) {
    if (a->shard != b->shard) return a->shard < b->shard;
    if (a->offset != b->offset) return a->offset < b->offset;
    return (a->size > 0) < (b->size > 0);
  });
  return order;
}

const BundleEntry* BundleReader::find(const std::string& name) const {
  const auto& v = impl_->entries;
  auto it = std::lower_bound(v.begin(), v.end(), name,
                             [](const BundleEntry& e, const std::string& n) { return e.info.name < n; });
  return it != v.end() && it->info.name == name ? &*it : nullptr;
}

std::string_view BundleReader::raw_bytes(const BundleEntry& entry, bool verify) const {
  const auto& file = impl_->shard(entry);
  const std::string_view bytes = file.bytes().substr(static_cast<std::size_t>(entry.offset),
                                                     static_cast<std::size_t>(entry.size));
  if (verify) this->verify(entry);
  return bytes;
}

void BundleReader::verify(const BundleEntry& entry) const {
  const auto& file = impl_->shard(entry);
  const std::string_view bytes = file.bytes().substr(static_cast<std::size_t>(entry.offset),
                                                     static_cast<std::size_t>(entry.size));
  const std::string where = file.path() + ": " + quoted(entry.info.name) + ": ";
  if (entry.info.dtype == DType::kString) {
    try {
      string_tensor::decode(bytes, shape_elements(entry.info.shape), true, entry.masked_crc32c);
    } catch (const Error& e) {
      throw Error(where + e.what());
    }
    return;
  }
  if (crc32c::value(bytes.data(), bytes.size()) != crc32c::unmask(entry.masked_crc32c)) {
    throw Error(where + "checksum mismatch (data is corrupt)");
  }
}

void BundleReader::read_float_into(const BundleEntry& entry, float* dst, bool verify) const {
  if (!dtype_converts_to_float(entry.info.dtype)) {
    impl_->fail(entry.info.name, dtype_name(entry.info.dtype) + " does not convert to float32");
  }
  const std::string_view bytes = raw_bytes(entry, verify);
  convert_to_float(entry.info.dtype, bytes.data(), shape_elements(entry.info.shape), dst,
                   impl_->big_endian);
}

std::vector<float> BundleReader::read_float(const BundleEntry& entry, bool verify) const {
  std::vector<float> out(static_cast<std::size_t>(shape_elements(entry.info.shape)));
  read_float_into(entry, out.data(), verify);
  return out;
}

std::vector<std::string> BundleReader::read_strings(const BundleEntry& entry, bool verify) const {
  if (entry.info.dtype != DType::kString) {
    impl_->fail(entry.info.name, dtype_name(entry.info.dtype) + " is not a string tensor");
  }
  const auto& file = impl_->shard(entry);
  const std::string_view bytes = file.bytes().substr(static_cast<std::size_t>(entry.offset),
                                                     static_cast<std::size_t>(entry.size));
  try {
    return string_tensor::decode(bytes, shape_elements(entry.info.shape), verify, entry.masked_crc32c);
  } catch (const Error& e) {
    throw Error(file.path() + ": " + quoted(entry.info.name) + ": " + e.what());
  }
}

}  // namespace graft
