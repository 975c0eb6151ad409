#include "checkpoint/bundle_writer.h"

#include <filesystem>
#include <map>
#include <optional>

#include "checkpoint/crc32c.h"
#include "checkpoint/error.h"
#include "checkpoint/file_io.h"
#include "checkpoint/path_resolution.h"
#include "checkpoint/sstable.h"
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

// Moves the finished files into place. An earlier data file with this prefix
// is set aside (renamed, which every filesystem supports) and put back if a
// later rename fails, so a failure never leaves new data under an old index.
void BundleWriter::Impl::commit() {
  const bool had_data = file_io::exists(data_path);
  const std::string backup = file_io::temp_name(data_path);
  if (had_data) file_io::rename_file(data_path, backup);
  bool data_replaced = false;
  try {
    file_io::rename_file(data_tmp, data_path);
    data_replaced = true;
    file_io::rename_file(index_tmp, index_path);
  } catch (const Error& e) {
    std::string restore_error;
    if (had_data) {
      try {
        file_io::rename_file(backup, data_path);
      } catch (const Error& e2) {
        restore_error = std::string("; restoring the previous data file (now ") + backup + ") also failed: " + e2.what();
      }
    } else if (data_replaced) {
      file_io::remove_quietly(data_path);
    }
    throw Error(e.what() + restore_error);
  }
  if (had_data) file_io::remove_quietly(backup);
  file_io::sync_directory(dir);
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
  impl_->data_path = data_file_name(impl_->prefix, 0, 1);
  impl_->index_path = index_file_name(impl_->prefix);
  impl_->data_tmp = file_io::temp_name(impl_->data_path);
  impl_->index_tmp = file_io::temp_name(impl_->index_path);
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
