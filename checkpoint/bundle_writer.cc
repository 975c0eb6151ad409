#include "checkpoint/bundle_writer.h"

#include <filesystem>
#include <map>
#include <optional>

#include "checkpoint/crc32c.h"
#include "checkpoint/error.h"
#include "checkpoint/file_io.h"
#include "checkpoint/path_resolution.h"
#include "checkpoint/save_lock.h"
#include "checkpoint/sstable.h"
#include "checkpoint/state_file.h"
#include "checkpoint/string_tensor.h"
#include "tensor_bundle.pb.h"

namespace graft {
namespace {

constexpr std::size_t kBufferSize = 1 << 20;  // small tensors are batched into 1 MiB writes

// TF's header: num_shards=1, little-endian (default, omitted), version{producer=1}.
std::string header_bytes() {
  tf::BundleHeaderProto h;
  h.set_num_shards(1);
  h.mutable_version()->set_producer(1);
  return h.SerializeAsString();
}

}  // namespace

struct BundleWriter::Impl {
  std::string prefix;
  std::string dir;
  std::string base;    // the prefix's file name
  std::string staged;  // the prefix the new bundle is written under (a temporary)
  std::optional<SaveLock> lock;
  std::string data_path;
  std::string index_path;
  std::string data_tmp;
  std::string index_tmp;
  std::optional<file_io::OutputFile> data;
  std::string buffer;
  int64_t offset = 0;
  std::map<std::string, tf::BundleEntryProto> entries;  // bytewise key order, as TF's std::map
  bool finished = false;
  bool failed = false;

  void append(const void* bytes, std::size_t n);
  void flush_buffer();
  void record(const TensorInfo& info, int64_t offset, int64_t size, uint32_t masked_crc);
  void check_new_name(const std::string& name) const;
  void write_index();
  void commit();
  void clean_up() noexcept;
};

void BundleWriter::Impl::flush_buffer() {
  if (buffer.empty()) return;
  data->write(buffer.data(), buffer.size());
  buffer.clear();
}

void BundleWriter::Impl::append(const void* bytes, std::size_t n) {
  if (!data) data.emplace(data_tmp);
  if (n == 0) return;  // bytes may be null
  if (buffer.size() + n > kBufferSize) flush_buffer();
  if (n >= kBufferSize) {
    data->write(bytes, n);  // large tensors go straight to the file
  } else {
    buffer.append(static_cast<const char*>(bytes), n);
  }
}

void BundleWriter::Impl::check_new_name(const std::string& name) const {
  if (finished) throw Error(prefix + ": add() after finish()");
  if (failed) throw Error(prefix + ": add() after an earlier failure");
  if (entries.count(name)) throw Error(prefix + ": tensor '" + name + "' added twice");
  if (name.empty()) throw Error(prefix + ": a tensor name cannot be empty (it is the header key)");
}

void BundleWriter::Impl::record(const TensorInfo& info, int64_t at, int64_t size, uint32_t masked_crc) {
  tf::BundleEntryProto e;
  e.set_dtype(static_cast<int>(info.dtype));
  auto* shape = e.mutable_shape();  // always present, even for scalars
  for (int64_t d : info.shape) shape->add_dim()->set_size(d);
  e.set_offset(at);
  e.set_size(size);
  e.set_crc32c(masked_crc);
  entries.emplace(info.name, std::move(e));
}

void BundleWriter::Impl::write_index() {
  file_io::OutputFile out(index_tmp);
  sstable::Builder table(out);
  table.add("", header_bytes());
  std::string value;
  for (const auto& [name, entry] : entries) {
    value.clear();
    entry.SerializeToString(&value);
    table.add(name, value);
  }
  table.finish();
  out.sync();
  out.close();
}

// Moves the staged bundle into place (docs/reliability.md, "The save
// protocol"). The old files of the prefix get a second name first (hard
// links: the backup), and while the prefix is being replaced the state file
// names the backup instead of the prefix, so at every instant each entry of
// the state file is a complete checkpoint. A failure puts the old files back.
void BundleWriter::Impl::commit() {
  std::string backup = file_io::temp_name(prefix);
  while (file_io::exists(index_file_name(backup)) || file_io::exists(data_file_name(backup, 0, 1))) {
    backup = file_io::temp_name(prefix);  // one the state file names, left by a killed save
  }
  const std::string backup_base = std::filesystem::path(backup).filename().string();
  const std::string backup_data = data_file_name(backup, 0, 1), backup_index = index_file_name(backup);
  const bool had_data = file_io::exists(data_path), had_index = file_io::exists(index_path);
  std::vector<std::string> backups;
  auto drop_backups = [&]() noexcept {
    for (const std::string& f : backups) file_io::remove_quietly(f);  // the index first
  };
  // The entries standing for this prefix: itself, or a backup a killed save
  // left the state file naming. Only the prefix itself is switched to the
  // new backup: after such a kill the prefix's own files may be the broken
  // pair, while the old backup is complete and stays named until the commit.
  bool names_prefix = false;
  std::vector<std::string> names_after_commit = {backup_base};
  for (const std::string& n : state_entries_in_folder(prefix)) {
    std::string staged_name;
    if (n == base) names_prefix = true;
    if (is_save_temporary(base, n + ".index", &staged_name) && staged_name == n) names_after_commit.push_back(n);
  }
  bool switched = false;
  try {
    if (had_index) {
      file_io::link_file(index_path, backup_index);
      backups.push_back(backup_index);
    }
    if (had_data) {
      file_io::link_file(data_path, backup_data);
      backups.push_back(backup_data);
    }
    file_io::sync_directory(dir);  // the staged bundle and the backup are durable
    if (names_prefix && had_index && had_data) switched = replace_state_entries(prefix, {base}, backup_base);
  } catch (...) {
    drop_backups();
    throw;
  }
  bool data_replaced = false;
  try {
    file_io::rename_file(data_tmp, data_path);
    data_replaced = true;
    file_io::rename_file(index_tmp, index_path);  // the commit point
  } catch (const Error& e) {
    std::string restore_error;
    try {
      if (had_data && data_replaced) {
        // A new name for the backup, renamed over the data file: the backup
        // stays complete while the state file may still name it. (Not when
        // the data file is still the old one: rename() between two links of
        // one file does nothing, leaving the temporary.)
        const std::string tmp = file_io::temp_name(data_path);
        file_io::link_file(backup_data, tmp);
        file_io::rename_file(tmp, data_path);
      } else if (!had_data && data_replaced) {
        file_io::remove_quietly(data_path);
      }
      if (switched) replace_state_entries(prefix, {backup_base}, base);
      drop_backups();
    } catch (const Error& e2) {
      restore_error = std::string("; restoring the previous checkpoint (kept as ") + backup + ") also failed: " + e2.what();
    }
    throw Error(e.what() + restore_error);
  }
  try {
    file_io::sync_directory(dir);  // the new files are durable before the state file names them
    if (switched || names_after_commit.size() > 1) replace_state_entries(prefix, names_after_commit, base);
  } catch (...) {
    if (!switched) drop_backups();  // else the state file still names the backup: keep it
    throw;
  }
  drop_backups();
  remove_stale_temporaries(prefix, state_entries_in_folder(prefix));
}

void BundleWriter::Impl::clean_up() noexcept {
  data.reset();
  file_io::remove_quietly(data_tmp);
  file_io::remove_quietly(index_tmp);
}

BundleWriter::BundleWriter(std::string prefix) : impl_(std::make_unique<Impl>()) {
  if (prefix.empty()) throw Error("empty checkpoint prefix");
  impl_->prefix = std::move(prefix);
  impl_->dir = file_io::directory_of(impl_->prefix);
  std::error_code ec;
  std::filesystem::create_directories(impl_->dir, ec);
  if (ec) throw Error("cannot create directory " + impl_->dir + ": " + ec.message());
  impl_->base = std::filesystem::path(impl_->prefix).filename().string();
  impl_->data_path = data_file_name(impl_->prefix, 0, 1);
  impl_->index_path = index_file_name(impl_->prefix);
  impl_->lock.emplace(impl_->prefix);
  // Holding the lock, no live saver owns a temporary of this prefix.
  remove_stale_temporaries(impl_->prefix, state_entries_in_folder(impl_->prefix));
  impl_->staged = file_io::temp_name(impl_->prefix);
  impl_->data_tmp = data_file_name(impl_->staged, 0, 1);
  impl_->index_tmp = index_file_name(impl_->staged);
}

BundleWriter::~BundleWriter() {
  if (!impl_->finished) impl_->clean_up();
}

const std::string& BundleWriter::prefix() const { return impl_->prefix; }

void BundleWriter::add(const TensorInfo& info, const void* bytes, std::size_t size) {
  impl_->check_new_name(info.name);
  if (info.dtype == DType::kString) throw Error(info.name + ": use add_strings for string tensors");
  if (!dtype_is_known(static_cast<int>(info.dtype))) {
    throw Error(info.name + ": unknown dtype " + std::to_string(static_cast<int>(info.dtype)));
  }
  int64_t expected;
  if (__builtin_mul_overflow(shape_elements(info.shape), static_cast<int64_t>(dtype_size(info.dtype)),
                             &expected) ||
      static_cast<uint64_t>(expected) != size) {
    throw Error(info.name + ": " + std::to_string(size) + " bytes do not match shape " +
                shape_string(info.shape) + " of " + dtype_name(info.dtype));
  }
  try {
    impl_->append(bytes, size);
  } catch (...) {
    impl_->failed = true;
    impl_->clean_up();
    throw;
  }
  impl_->record(info, impl_->offset, static_cast<int64_t>(size),
                crc32c::mask(crc32c::value(bytes, size)));
  impl_->offset += static_cast<int64_t>(size);
}

void BundleWriter::add_float(const std::string& name, const Shape& shape, const float* values) {
  const std::size_t n = static_cast<std::size_t>(shape_elements(shape));
  add(TensorInfo{name, DType::kFloat, shape}, values, n * sizeof(float));
}

void BundleWriter::add_strings(const std::string& name, const Shape& shape,
                               const std::vector<std::string>& values) {
  impl_->check_new_name(name);
  if (static_cast<uint64_t>(shape_elements(shape)) != values.size()) {
    throw Error(name + ": " + std::to_string(values.size()) + " strings do not match shape " +
                shape_string(shape));
  }
  const string_tensor::Encoded enc = string_tensor::encode(values);
  try {
    impl_->append(enc.bytes.data(), enc.bytes.size());
  } catch (...) {
    impl_->failed = true;
    impl_->clean_up();
    throw;
  }
  impl_->record(TensorInfo{name, DType::kString, shape}, impl_->offset,
                static_cast<int64_t>(enc.bytes.size()), enc.masked_crc32c);
  impl_->offset += static_cast<int64_t>(enc.bytes.size());
}

void BundleWriter::finish() {
  if (impl_->finished) throw Error(impl_->prefix + ": finish() called twice");
  if (impl_->failed) throw Error(impl_->prefix + ": finish() after an earlier failure");
  try {
    if (!impl_->data) impl_->data.emplace(impl_->data_tmp);  // no tensors: an empty data file
    impl_->flush_buffer();
    impl_->data->sync();
    impl_->data->close();
    impl_->write_index();
    impl_->commit();
  } catch (...) {
    impl_->failed = true;
    impl_->clean_up();
    throw;
  }
  impl_->finished = true;
  impl_->data.reset();
}

}  // namespace graft
