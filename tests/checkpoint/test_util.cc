#include "tests/checkpoint/test_util.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/common/fixtures.h"

namespace fs = std::filesystem;

namespace graft::test {

const std::vector<std::string>& fixture_prefixes() {
  static const std::vector<std::string> kPrefixes{
      "tf1/seed_original/my_model_final.ckpt",
      "tf1/seed_new/my_new_model_final.ckpt",
      "tf1/adam_digits_0_to_4/ch11-exercise_model_0_to_4.ckpt",
      "tf1/scoped_names/my_model_final.ckpt",
      "tf1/batchnorm/my_model_final.ckpt",
      "tf1/conv_adam/my_mnist_model",
      "tf2/keras_dense_adam/cp.ckpt",
  };
  return kPrefixes;
}

std::optional<std::string> fixture_prefix(const std::string& relative_prefix) {
  auto index = fixture(relative_prefix + ".index");
  if (!index) return std::nullopt;
  std::string p = index->string();
  return p.substr(0, p.size() - 6);
}

std::string copy_checkpoint(const std::string& prefix, const fs::path& dir) {
  const fs::path src(prefix);
  const std::string base = src.filename().string();
  for (const auto& entry : fs::directory_iterator(src.parent_path())) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(base + ".", 0) == 0) {
      fs::copy_file(entry.path(), dir / name, fs::copy_options::overwrite_existing);
      fs::permissions(dir / name, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::add);
    }
  }
  return (dir / base).string();
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::vector<std::string> list_dir(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file()) names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace graft::test
