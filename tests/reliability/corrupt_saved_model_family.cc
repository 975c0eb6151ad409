// The SavedModel family of the corrupt-input corpus (corrupt_input_test.cc):
// a small Keras SavedModel written byte by byte (tests/common/
// saved_model_builder.h), then its keras_metadata.pb truncated, bit-flipped,
// replaced by garbage, a directory, a FIFO or a huge sparse file, or
// rewritten with JSON Keras never writes (absurd sizes, deep nesting,
// cycles, wrong types, layers graft cannot run); and its own files missing
// or not files. Each through `graft eval SM --data x.npy --labels y.npy`:
// exit 1 with one line naming keras_metadata.pb (or the SavedModel).
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "host/data/npy.h"
#include "tests/common/saved_model_builder.h"
#include "tests/reliability/corrupt_corpus.h"

namespace graft::corrupt {
namespace {

using nlohmann::json;

std::vector<test::SavedLayer> small_mlp() {
  return {test::keras_dense("dense", 8, 4, "relu", 1), test::keras_dense("dense_1", 4, 3, "linear", 2)};
}

// A SavedModel with its data beside it; returns the SavedModel's path.
fs::path write_case(const fs::path& d) {
  const fs::path sm = d / "sm";
  test::SavedModelOptions o;
  o.input_shape = json::array({nullptr, 8});
  test::write_saved_model(sm, small_mlp(), o);
  write_file(d / "x.npy", npy_image_f32(std::vector<float>(5 * 8, 0.25f), 5, 8));
  write_file(d / "y.npy", npy_image_i32({0, 1, 2, 0, 1}));
  return sm;
}

std::string eval_args(const fs::path& d, const fs::path& sm) {
  return quote(sm.string()) + " --data " + quote((d / "x.npy").string()) + " --labels " +
         quote((d / "y.npy").string()) + " --device cpu --threads 1";
}

// A SavedMetadata whose root node holds `metadata` (any text) as `identifier`.
std::string metadata_with_root(const std::string& metadata, const std::string& identifier = "_tf_keras_sequential") {
  tf::SavedMetadata meta;
  tf::SavedObject* root = meta.add_nodes();
  root->set_node_path("root");
  root->set_identifier(identifier);
  root->set_metadata(metadata);
  return meta.SerializeAsString();
}

// The root's JSON for a Sequential of `layers` (config.layers entries).
std::string sequential(const std::vector<json>& layers) {
  json list = json::array();
  for (const json& l : layers) list.push_back(l);
  return json({{"name", "sequential"}, {"class_name", "Sequential"}, {"config", {{"name", "s"}, {"layers", list}}}})
      .dump();
}

json dense(const json& units, const json& activation = "relu") {
  return {{"class_name", "Dense"}, {"config", {{"name", "dense"}, {"units", units}, {"activation", activation}}}};
}

}  // namespace

void saved_model_family(Corpus& corpus) {
  const std::string good = test::keras_metadata_bytes(small_mlp(), [] {
    test::SavedModelOptions o;
    o.input_shape = json::array({nullptr, 8});
    return o;
  }());
  // keras_metadata.pb replaced by `bytes`.
  auto run = [&](const std::string& what, const std::string& bytes, Expect expect = Expect::kError) {
    const fs::path d = corpus.case_dir();
    const fs::path sm = write_case(d);
    write_file(sm / "keras_metadata.pb", bytes);
    corpus.run("savedmodel", "keras_metadata.pb " + what, "eval", eval_args(d, sm), expect,
               (sm / "keras_metadata.pb").string());
  };
  {  // the control: the same SavedModel, intact, is evaluated
    const fs::path d = corpus.case_dir();
    const fs::path sm = write_case(d);
    corpus.run("control", "intact SavedModel", "eval", eval_args(d, sm), Expect::kErrorOrValid, "");
  }
  run("empty", "");
  for (std::size_t cut : spread(1, good.size() - 1, 12)) {
    run("truncated to " + std::to_string(cut) + " bytes", good.substr(0, cut), Expect::kErrorOrValid);
  }
  for (std::size_t pos : spread(0, good.size(), 24)) {
    std::string bad = good;
    flip_bit(bad, pos);
    run("bit flipped at " + std::to_string(pos), bad, Expect::kErrorOrValid);
  }
  run("binary garbage", std::string(4096, '\xff'));
  run("a field claiming 2 GiB", std::string("\x0a\xff\xff\xff\xff\x07", 6) + "abc");
  run("no root node", [] {
    tf::SavedMetadata meta;
    meta.add_nodes()->set_node_path("root.layer-0");
    return meta.SerializeAsString();
  }());
  run("root is a layer", metadata_with_root(json({{"name", "d"}, {"class_name", "Dense"}}).dump(), "_tf_keras_layer"));
  run("root JSON unterminated", metadata_with_root("{\"config\": {\"layers\": ["));
  run("root JSON nested 100000 deep (unterminated)", metadata_with_root(std::string(100000, '[')));
  run("layers nested 100000 deep", metadata_with_root("{\"class_name\": \"Sequential\", \"config\": {\"layers\": " +
                                                      std::string(100000, '[') + std::string(100000, ']') + "}}"));
  run("root JSON is a number", metadata_with_root("42"));
  run("root JSON with NaN (Python's json writes it)",
      metadata_with_root("{\"config\": {\"layers\": [{\"class_name\": \"BatchNormalization\", \"config\": "
                         "{\"epsilon\": NaN}}]}}"));
  run("layers is an object",
      metadata_with_root(json({{"class_name", "Sequential"}, {"config", {{"layers", json::object()}}}}).dump()));
  run("no layers (subclassed)", metadata_with_root(json({{"name", "m"}, {"class_name", "M"}}).dump(), "_tf_keras_model"));
  run("units 2^40", metadata_with_root(sequential({dense(int64_t{1} << 40)})));
  run("units -3", metadata_with_root(sequential({dense(-3)})));
  run("units a string", metadata_with_root(sequential({dense("300")})));
  run("units 10^9 (not the variables')", metadata_with_root(sequential({dense(1000000000), dense(3, "linear")})));
  run("activation an array", metadata_with_root(sequential({dense(4, json::array({1, 2}))})));
  run("activation gelu", metadata_with_root(sequential({dense(4, "gelu"), dense(3, "linear")})));
  run("a Conv2D layer", metadata_with_root(sequential({{{"class_name", "Conv2D"}, {"config", {{"name", "c"}}}}})));
  run("a layer without class_name", metadata_with_root(sequential({{{"config", {{"name", "c"}}}}})));
  run("a layer that is a string", metadata_with_root(sequential({"Dense"})));
  run("input shape 2^31 x 2^31",
      metadata_with_root(sequential({{{"class_name", "InputLayer"},
                                      {"config", {{"batch_input_shape", {nullptr, int64_t{1} << 31, int64_t{1} << 31}}}}},
                                     dense(4)})));
  run("input shape of strings",
      metadata_with_root(sequential({{{"class_name", "InputLayer"}, {"config", {{"batch_input_shape", {"a", "b"}}}}}})));
  run("batch norm momentum 5",
      metadata_with_root(sequential({dense(4, "linear"),
                                     {{"class_name", "BatchNormalization"}, {"config", {{"name", "b"}, {"momentum", 5}}}},
                                     dense(3, "linear")})));
  run("dropout rate 1.5", metadata_with_root(sequential({dense(4), {{"class_name", "Dropout"}, {"config", {{"rate", 1.5}}}},
                                                          dense(3, "linear")})));
  {
    const json looped = {{"name", "m"},
                         {"class_name", "Functional"},
                         {"config",
                          {{"layers", {{{"class_name", "Dense"}, {"name", "a"}, {"config", {{"name", "a"}, {"units", 4}}},
                                        {"inbound_nodes", {{{"b", 0, 0, json::object()}}}}},
                                       {{"class_name", "Dense"}, {"name", "b"}, {"config", {{"name", "b"}, {"units", 4}}},
                                        {"inbound_nodes", {{{"a", 0, 0, json::object()}}}}}}},
                           {"input_layers", {{"input_1", 0, 0}}},
                           {"output_layers", {{"b", 0, 0}}}}}};
    run("functional layers that feed each other", metadata_with_root(looped.dump(), "_tf_keras_network"));
    json two = looped;
    two["config"]["input_layers"] = {{"a", 0, 0}, {"b", 0, 0}};
    run("functional model with two inputs", metadata_with_root(two.dump(), "_tf_keras_network"));
    json missing = looped;
    missing["config"]["output_layers"] = {{"zzz", 0, 0}};
    run("functional output names no layer", metadata_with_root(missing.dump(), "_tf_keras_network"));
  }
  // Not files.
  auto special = [&](const std::string& what, const std::function<void(const fs::path&)>& make, const std::string& names) {
    const fs::path d = corpus.case_dir();
    const fs::path sm = write_case(d);
    make(sm);
    corpus.run("savedmodel", what, "eval", eval_args(d, sm), Expect::kError, names.empty() ? sm.string() : names);
  };
  special("keras_metadata.pb is a directory", [](const fs::path& sm) {
    fs::remove(sm / "keras_metadata.pb");
    fs::create_directory(sm / "keras_metadata.pb");
  }, "keras_metadata.pb");
  special("keras_metadata.pb is a FIFO", [](const fs::path& sm) {
    fs::remove(sm / "keras_metadata.pb");
    ::mkfifo((sm / "keras_metadata.pb").c_str(), 0644);
  }, "keras_metadata.pb");
  special("keras_metadata.pb is a 3 GiB sparse file", [](const fs::path& sm) {
    fs::resize_file(sm / "keras_metadata.pb", std::uintmax_t{3} << 30);  // refused before it is read
  }, "keras_metadata.pb");
  special("keras_metadata.pb is a dangling symlink", [](const fs::path& sm) {
    fs::remove(sm / "keras_metadata.pb");
    fs::create_symlink("/nonexistent/graft/keras_metadata.pb", sm / "keras_metadata.pb");
  }, "");  // dangling: no metadata, so the activation is asked for
  special("saved_model.pb is a directory", [](const fs::path& sm) {
    fs::remove(sm / "saved_model.pb");
    fs::create_directory(sm / "saved_model.pb");
  }, "saved_model.pb");
  special("variables/ missing", [](const fs::path& sm) { fs::remove_all(sm / "variables"); }, "variables");
  special("variables/ is a file", [](const fs::path& sm) {
    fs::remove_all(sm / "variables");
    write_file(sm / "variables", "x");
  }, "variables");
  special("variables.index missing", [](const fs::path& sm) { fs::remove(sm / "variables" / "variables.index"); },
          "variables.index");
  special("variables.index is garbage",
          [](const fs::path& sm) { write_file(sm / "variables" / "variables.index", std::string(1000, 'x')); },
          "variables.index");
}

}  // namespace graft::corrupt
