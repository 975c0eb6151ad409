#include "tools/fuzz/harness.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string_view>

#include <google/protobuf/stubs/logging.h>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/crc32c.h"
#include "checkpoint/error.h"
#include "checkpoint/file_io.h"
#include "checkpoint/path_resolution.h"
#include "checkpoint/sstable.h"
#include "checkpoint/state_file.h"
#include "checkpoint/string_tensor.h"
#include "checkpoint/summary.h"
#include "checkpoint/varint.h"
#include "host/data/csv.h"
#include "host/data/data_file.h"
#include "host/data/idx.h"
#include "host/data/npy.h"
#include "host/data/npz.h"
#include "checkpoint/bundle_writer.h"
#include "host/restore/graph_import.h"
#include "host/restore/keras_metadata.h"
#include "host/restore/keras_model.h"
#include "saved_metadata.pb.h"
#include "tensor_bundle.pb.h"

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace graft::fuzz {
namespace {

// A per-process scratch directory (in /dev/shm when there is one: every
// input is written to a file), removed at exit.
const std::string& scratch() {
  // Never destroyed, so the exit handler can still use it.
  static const std::string* const dir = [] {
    google::protobuf::SetLogHandler(nullptr);  // as the CLI does: errors are graft::Error only
    std::string base = "/tmp";
    if (const char* t = std::getenv("TMPDIR"); t && *t) {
      base = t;
    } else if (::access("/dev/shm", W_OK) == 0) {
      base = "/dev/shm";
    }
    std::string tmpl = base + "/graft-fuzz-XXXXXX";
    if (!::mkdtemp(tmpl.data())) std::abort();
    auto* d = new std::string(tmpl);
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(scratch(), ec);
    });
    return d;
  }();
  return *dir;
}

std::string make_dir(const std::string& name) {
  const std::string d = scratch() + "/" + name;
  fs::create_directories(d);
  return d;
}

void write_file(const std::string& path, const void* data, std::size_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) std::abort();
  auto p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t w = ::write(fd, p, size);
    if (w <= 0) std::abort();
    p += w;
    size -= static_cast<std::size_t>(w);
  }
  ::close(fd);
}

// Everything `graft inspect --verify` does with a checkpoint, on the small
// tensors (the data shard's zeros make most checksums fail: that is fine).
void exercise(const std::string& prefix) {
  try {
    const BundleReader r = BundleReader::open(prefix);
    (void)summarize(r);
    (void)r.entries_in_data_order();
    for (const auto& e : r.entries()) {
      if (r.find(e.info.name) == nullptr) std::abort();  // entries are sorted and unique
      if (e.sliced || e.size > (1 << 16)) continue;
      try {
        r.verify(e);
      } catch (const Error&) {
      }
      try {
        if (e.info.dtype == DType::kString) {
          (void)r.read_strings(e, false);
        } else if (dtype_converts_to_float(e.info.dtype)) {
          (void)r.read_float(e, false);
        } else {
          (void)r.raw_bytes(e, false);
        }
      } catch (const Error&) {
      }
    }
  } catch (const Error&) {
  }
}

// Rewrites the trailer crc of block (offset, size); false when it does not fit.
bool fix_block(std::string& file, uint64_t offset, uint64_t size) {
  if (offset > file.size() || size > file.size() - offset || file.size() - offset - size < 5) return false;
  const uint32_t crc = crc32c::mask(crc32c::value(file.data() + offset, size + 1));  // + type byte
  for (int i = 0; i < 4; ++i) file[offset + size + 1 + i] = static_cast<char>(crc >> (8 * i));
  return true;
}

}  // namespace

std::string with_fixed_block_crcs(std::string file) {
  if (file.size() < 48) return file;
  const std::string_view footer = std::string_view(file).substr(file.size() - 48, 40);
  std::size_t pos = 0;
  uint64_t meta_off, meta_size, index_off, index_size;
  if (!get_varint64(footer, pos, meta_off) || !get_varint64(footer, pos, meta_size) ||
      !get_varint64(footer, pos, index_off) || !get_varint64(footer, pos, index_size)) {
    return file;
  }
  fix_block(file, meta_off, meta_size);
  if (!fix_block(file, index_off, index_size) || index_size < 4) return file;
  // The index block's entries are (key, block handle) pairs.
  const std::string block = file.substr(index_off, index_size);
  uint32_t restarts;
  std::memcpy(&restarts, block.data() + block.size() - 4, 4);
  if (restarts > (block.size() - 4) / 4) return file;
  const std::string_view entries = std::string_view(block).substr(0, block.size() - 4 - 4 * std::size_t{restarts});
  pos = 0;
  while (pos < entries.size()) {
    uint64_t shared, non_shared, value_len;
    if (!get_varint64(entries, pos, shared) || !get_varint64(entries, pos, non_shared) ||
        !get_varint64(entries, pos, value_len) || non_shared > entries.size() - pos ||
        value_len > entries.size() - pos - non_shared) {
      break;
    }
    pos += non_shared;
    const std::string_view value = entries.substr(pos, value_len);
    std::size_t vpos = 0;
    uint64_t off, size;
    if (get_varint64(value, vpos, off) && get_varint64(value, vpos, size)) fix_block(file, off, size);
    pos += value_len;
  }
  return file;
}

void index_one(const uint8_t* data, std::size_t size) {
  static const std::string prefix = [] {
    const std::string p = make_dir("index") + "/ckpt";
    // A sparse, zero-filled shard as large as the largest fixture's.
    const int fd = ::open((p + ".data-00000-of-00001").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ::ftruncate(fd, 4 << 20) != 0) std::abort();
    ::close(fd);
    return p;
  }();
  const std::string index = prefix + ".index";
  write_file(index, data, size);
  exercise(prefix);
  const std::string fixed = with_fixed_block_crcs(std::string(reinterpret_cast<const char*>(data), size));
  if (fixed.size() == size && std::memcmp(fixed.data(), data, size) != 0) {
    write_file(index, fixed.data(), fixed.size());
    exercise(prefix);
  }
}

void entry_one(const uint8_t* data, std::size_t size) {
  static const std::string prefix = make_dir("entry") + "/ckpt";
  const std::string value(reinterpret_cast<const char*>(data), size);
  write_file(prefix + ".data-00000-of-00001", data, size);
  {
    tf::BundleHeaderProto header;
    header.set_num_shards(1);
    header.mutable_version()->set_producer(1);
    file_io::OutputFile out(prefix + ".index");
    sstable::Builder table(out);
    table.add("", header.SerializeAsString());
    table.add("t", value);
    table.finish();
    out.close();
  }
  exercise(prefix);
  for (int64_t elements : {int64_t{0}, int64_t{1}, int64_t{3}, static_cast<int64_t>(size / 2)}) {
    try {
      (void)string_tensor::decode(value, elements, true, 0);
    } catch (const Error&) {
    }
    try {
      (void)string_tensor::decode(value, elements, false, 0);
    } catch (const Error&) {
    }
  }
}

void state_file_one(const uint8_t* data, std::size_t size) {
  static const std::string dir = [] {
    const std::string d = make_dir("state");
    // Something for a parsed path to find.
    write_file(d + "/model.ckpt.index", "", 0);
    return d;
  }();
  const std::string path = dir + "/checkpoint";
  write_file(path, data, size);
  try {
    (void)read_state_file(path);
  } catch (const Error&) {
  }
  try {
    (void)resolve_checkpoint_path(dir);
  } catch (const Error&) {
  }
}

void idx_one(const uint8_t* data, std::size_t size) {
  static const std::string path = make_dir("idx") + "/data-idx-ubyte";
  write_file(path, data, size);
  for (int rank = 1; rank <= 3; ++rank) {
    try {
      const IdxArray a = read_idx_u8(path, rank);
      int64_t n = 1;
      for (int64_t d : a.dims) n *= d;
      if (static_cast<int64_t>(a.data.size()) != n || static_cast<int>(a.dims.size()) != rank) std::abort();
    } catch (const Error&) {
    }
  }
}

void meta_graph_one(const uint8_t* data, std::size_t size) {
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);  // as the CLI does: errors are graft::Error only
    return true;
  }();
  (void)quiet;
  try {
    const ModelDescription m =
        model_from_meta_graph_bytes(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.meta");
    m.validate();
  } catch (const Error&) {
  }
}

// A Keras SavedModel's variables, keyed as older TF keys them
// (layer_with_weights-N/LEAF/.ATTRIBUTES/VARIABLE_VALUE), without an object graph.
const BundleReader& keras_metadata_variables() {
  static const BundleReader* const reader = [] {
    const std::string dir = make_dir("keras");
    write_file(dir + "/saved_model.pb", "\x08\x01", 2);
    auto add = [](BundleWriter& w, const std::string& layer, const std::string& leaf, const Shape& shape) {
      std::vector<float> v(static_cast<std::size_t>(shape_elements(shape)), 0.5f);
      w.add_float(layer + "/" + leaf + "/.ATTRIBUTES/VARIABLE_VALUE", shape, v.data());
    };
    fs::create_directories(dir + "/variables");
    BundleWriter w(dir + "/variables/variables");
    add(w, "layer_with_weights-0", "kernel", {8, 4});
    add(w, "layer_with_weights-0", "bias", {4});
    for (const char* leaf : {"gamma", "beta", "moving_mean", "moving_variance"}) add(w, "layer_with_weights-1", leaf, {4});
    add(w, "layer_with_weights-2", "kernel", {4, 3});
    add(w, "layer_with_weights-2", "bias", {3});
    w.finish();
    return new BundleReader(BundleReader::open(dir));
  }();
  return *reader;
}

void keras_metadata_one(const uint8_t* data, std::size_t size) {
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;
  try {
    const KerasModel k =
        parse_keras_metadata(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz/keras_metadata.pb");
    const ModelDescription m = model_from_keras(k, keras_metadata_variables());
    m.validate();
  } catch (const Error&) {
  }
}

std::vector<std::pair<std::string, std::string>> keras_metadata_seeds() {
  using json = nlohmann::json;
  auto dense = [](const std::string& name, int units, const std::string& act) {
    return json{{"class_name", "Dense"},
                {"config", {{"name", name}, {"trainable", true}, {"units", units}, {"activation", act}, {"use_bias", true}}}};
  };
  const json input = {{"class_name", "InputLayer"}, {"config", {{"batch_input_shape", {nullptr, 8}}, {"name", "input_1"}}}};
  const json bn = {{"class_name", "BatchNormalization"},
                   {"config", {{"name", "batch_normalization"}, {"axis", {1}}, {"momentum", 0.99}, {"epsilon", 0.001},
                               {"center", true}, {"scale", true}}}};
  auto file = [](const std::string& identifier, const json& model, const std::vector<json>& layers) {
    tf::SavedMetadata meta;
    tf::SavedObject* root = meta.add_nodes();
    root->set_node_path("root");
    root->set_identifier(identifier);
    root->set_metadata(model.dump());
    int n = 0;
    for (const json& l : layers) {
      tf::SavedObject* node = meta.add_nodes();
      node->set_node_id(++n);
      node->set_node_path("root.layer_with_weights-" + std::to_string(n - 1));
      node->set_identifier("_tf_keras_layer");
      node->set_metadata(json({{"name", l["config"]["name"]}, {"class_name", l["class_name"]}, {"config", l["config"]}}).dump());
    }
    return meta.SerializeAsString();
  };
  std::vector<std::pair<std::string, std::string>> out;
  const json act = {{"class_name", "Activation"}, {"config", {{"name", "activation"}, {"activation", "relu"}}}};
  const json drop = {{"class_name", "Dropout"}, {"config", {{"name", "dropout"}, {"rate", 0.5}}}};
  const std::vector<json> weighted = {dense("dense", 4, "linear"), bn, dense("dense_1", 3, "softmax")};
  out.emplace_back("sequential_bn", file("_tf_keras_sequential",
                                         {{"name", "sequential"}, {"class_name", "Sequential"},
                                          {"config", {{"name", "sequential"},
                                                      {"layers", {input, weighted[0], bn, act, drop, weighted[2]}}}}},
                                         weighted));
  json functional_layers = json::array();
  functional_layers.push_back({{"class_name", "InputLayer"}, {"name", "input_1"}, {"config", input["config"]},
                               {"inbound_nodes", json::array()}});
  std::string prev = "input_1";
  for (const json& l : {dense("dense", 4, "relu"), dense("dense_1", 3, "linear")}) {
    json e = l;
    e["name"] = l["config"]["name"];
    e["inbound_nodes"] = json::array({json::array({json::array({prev, 0, 0, json::object()})})});
    prev = e["name"];
    functional_layers.push_back(e);
  }
  out.emplace_back("functional", file("_tf_keras_network",
                                      {{"name", "model"}, {"class_name", "Functional"},
                                       {"config", {{"name", "model"}, {"layers", functional_layers},
                                                   {"input_layers", {{"input_1", 0, 0}}},
                                                   {"output_layers", {{"dense_1", 0, 0}}}}}},
                                      {}));
  out.emplace_back("conv2d", file("_tf_keras_sequential",
                                  {{"name", "s"}, {"class_name", "Sequential"},
                                   {"config", {{"layers", {{{"class_name", "Conv2D"}, {"config", {{"name", "conv2d"}}}}}}}}},
                                  {}));
  return out;
}

namespace {

DataLimits fuzz_limits() {
  DataLimits l;
  l.max_bytes = int64_t{64} << 20;
  return l;
}

// Whatever read_data_file makes of the file; only graft::Error may come out.
void read_any(const std::string& path) {
  try {
    DataFileOptions o;
    o.limits = fuzz_limits();
    const DataFile f = read_data_file(path, o);
    if (static_cast<int64_t>(f.rows.features.size()) != f.rows.rows * f.rows.cols) std::abort();
    if (!f.rows.labels.empty() && static_cast<int64_t>(f.rows.labels.size()) != f.rows.rows) std::abort();
  } catch (const Error&) {
  }
}

}  // namespace

void npy_one(const uint8_t* data, std::size_t size) {
  try {
    const NpyArray a = parse_npy(data, size, "fuzz.npy", fuzz_limits());
    if (static_cast<int64_t>(a.data.size()) != a.elements() * a.dtype.size) std::abort();
    try {
      const RawData r = npy_features(a, "fuzz.npy");
      if (static_cast<int64_t>(r.features.size()) != r.rows * r.cols) std::abort();
    } catch (const Error&) {
    }
    (void)npy_labels(a, "fuzz.npy");
  } catch (const Error&) {
  }
}

void csv_one(const uint8_t* data, std::size_t size) {
  static const std::string path = make_dir("csv") + "/data.csv";
  write_file(path, data, size);
  for (const char* column : {"", "label", "1"}) {
    try {
      CsvOptions o;
      o.label_column = column;
      o.limits = fuzz_limits();
      const RawData r = read_csv(path, o);
      if (static_cast<int64_t>(r.features.size()) != r.rows * r.cols) std::abort();
    } catch (const Error&) {
    }
  }
  read_any(path);
}

void npz_one(const uint8_t* data, std::size_t size) {
  static const std::string path = make_dir("npz") + "/data.npz";
  write_file(path, data, size);
  try {
    (void)read_npz(path, fuzz_limits());
  } catch (const Error&) {
  }
  read_any(path);
}

}  // namespace graft::fuzz
