#include "host/data/npz.h"

#include <fmt/format.h>
#include <zip.h>

#include <memory>
#include <vector>

#include "checkpoint/error.h"

namespace graft {
namespace {

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
struct ZipFileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

std::string zip_error_text(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string text = zip_error_strerror(&error);
  zip_error_fini(&error);
  return text;
}

}  // namespace

std::map<std::string, NpyArray> read_npz(const std::string& path, const DataLimits& limits) {
  int code = 0;
  std::unique_ptr<zip_t, ZipCloser> archive(zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code));
  if (!archive) throw Error(path + ": not a readable .npz (zip) archive: " + zip_error_text(code));
  std::map<std::string, NpyArray> out;
  int64_t total = 0;
  const zip_int64_t entries = zip_get_num_entries(archive.get(), 0);
  for (zip_int64_t i = 0; i < entries; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(archive.get(), static_cast<zip_uint64_t>(i), 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME) ||
        !(st.valid & ZIP_STAT_SIZE)) {
      throw Error(fmt::format("{}: member {}: {}", path, i, zip_strerror(archive.get())));
    }
    const std::string name = st.name;
    if (!name.empty() && name.back() == '/') continue;  // a folder entry
    const std::string origin = path + ":" + name;
    if (name.size() < 5 || name.compare(name.size() - 4, 4, ".npy") != 0) {
      throw Error(origin + ": an .npz member that is not NAME.npy");
    }
    total += static_cast<int64_t>(st.size);
    check_data_size(total, limits, path, "its members (inflated)");
    std::unique_ptr<zip_file_t, ZipFileCloser> file(zip_fopen_index(archive.get(), static_cast<zip_uint64_t>(i), 0));
    if (!file) throw Error(origin + ": cannot open member: " + zip_strerror(archive.get()));
    std::vector<uint8_t> bytes(static_cast<std::size_t>(st.size));
    const zip_int64_t got = zip_fread(file.get(), bytes.data(), st.size);
    if (got < 0 || static_cast<zip_uint64_t>(got) != st.size) {
      throw Error(fmt::format("{}: member holds {} of its {} bytes: {}", origin, got < 0 ? 0 : got, st.size,
                              zip_file_strerror(file.get())));
    }
    const std::string key = name.substr(0, name.size() - 4);
    if (out.count(key)) throw Error(origin + ": array '" + key + "' stored twice");
    out.emplace(key, parse_npy(bytes.data(), bytes.size(), origin, limits));
  }
  if (out.empty()) throw Error(path + ": an .npz archive with no arrays");
  return out;
}

void write_npz(const std::string& path, const std::map<std::string, std::string>& npy_images) {
  int code = 0;
  zip_t* raw = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
  if (!raw) throw Error(path + ": cannot create: " + zip_error_text(code));
  std::unique_ptr<zip_t, ZipCloser> archive(raw);
  for (const auto& [name, image] : npy_images) {
    zip_source_t* source = zip_source_buffer(archive.get(), image.data(), image.size(), 0);
    if (!source) throw Error(path + ": " + zip_strerror(archive.get()));
    const zip_int64_t index = zip_file_add(archive.get(), (name + ".npy").c_str(), source, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      zip_source_free(source);
      throw Error(path + ": " + zip_strerror(archive.get()));
    }
    zip_set_file_compression(archive.get(), static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0);
  }
  if (zip_close(archive.get()) != 0) throw Error(path + ": cannot write: " + zip_strerror(archive.get()));
  archive.release();
}

}  // namespace graft
