// TF2 SavedModel directories (checkpoint/saved_model.h,
// host/restore/keras_metadata.h, host/restore/keras_model.h), built byte by
// byte in the test (tests/common/saved_model_builder.h): the architecture
// comes from keras_metadata.pb, the weights from variables/variables by
// either key style TF writes, and the network computes what an independent
// forward pass of the same weights computes. What graft cannot represent,
// and metadata that contradicts the variables, is refused by name.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/saved_model.h"
#include "host/jobs/inspect_job.h"
#include "host/predict/predictions.h"
#include "host/restore/checkpoint_model_resolution.h"
#include "host/restore/keras_metadata.h"
#include "host/restore/keras_model.h"
#include "tests/common/error_of.h"
#include "tests/common/expect_contains.h"
#include "tests/common/fixtures.h"
#include "tests/common/saved_model_builder.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace graft {
namespace {

using test::error_of;
using test::SavedLayer;
using test::SavedModelOptions;

// Dense(300, relu) -> Dense(100, elu) -> Dense(10), on 784 inputs.
std::vector<SavedLayer> mlp() {
  return {test::keras_dense("dense", 784, 300, "relu", 1), test::keras_dense("dense_1", 300, 100, "elu", 3),
          test::keras_dense("dense_2", 100, 10, "linear", 5)};
}

// The logits of `layers` for one row, in double, from the layers' own
// weights and Keras's definitions (nothing of graft's).
std::vector<double> reference_logits(const std::vector<SavedLayer>& layers, std::vector<double> x) {
  auto apply = [](std::vector<double>& v, const std::string& act) {
    for (double& z : v) {
      if (act == "relu") z = std::max(z, 0.0);
      if (act == "elu") z = z > 0 ? z : std::expm1(z);
      if (act == "tanh") z = std::tanh(z);
    }
  };
  for (const SavedLayer& l : layers) {
    const std::string cls = l.keras["class_name"];
    const json& c = l.keras["config"];
    if (cls == "Dense") {
      const auto& w = l.weights[0];
      const auto& b = l.weights[1];
      const auto in = static_cast<std::size_t>(w.shape[0]), out = static_cast<std::size_t>(w.shape[1]);
      std::vector<double> y(out);
      for (std::size_t j = 0; j < out; ++j) {
        double s = b.values[j];
        for (std::size_t i = 0; i < in; ++i) s += x[i] * w.values[i * out + j];
        y[j] = s;
      }
      apply(y, c.value("activation", "linear"));
      x = y;
    } else if (cls == "BatchNormalization") {
      std::map<std::string, const test::SavedTensor*> t;
      for (const auto& w : l.weights) t[w.leaf] = &w;
      for (std::size_t i = 0; i < x.size(); ++i) {
        const double g = t.count("gamma") ? t["gamma"]->values[i] : 1.0, be = t.count("beta") ? t["beta"]->values[i] : 0.0;
        x[i] = g * (x[i] - t["moving_mean"]->values[i]) /
                   std::sqrt(static_cast<double>(t["moving_variance"]->values[i]) + static_cast<double>(c["epsilon"].get<float>())) +
               be;
      }
    } else if (cls == "Activation") {
      apply(x, c["activation"]);
    }
  }
  return x;
}

std::vector<float> rows(int64_t n, int64_t cols) {
  std::vector<float> v = test::wave(static_cast<std::size_t>(n * cols), 99, 0.5f);
  for (float& f : v) f += 0.5f;  // [0, 1), as scaled pixels
  return v;
}

// Max abs difference between graft's probabilities and the reference's.
double max_probability_error(const BundleReader& reader, const CheckpointModel& model,
                             const std::vector<SavedLayer>& layers, int64_t cols) {
  const int64_t n = 7;
  const std::vector<float> x = rows(n, cols);
  const RowPredictions p = predict_rows(reader, model, x.data(), n);
  double worst = 0;
  for (int64_t r = 0; r < n; ++r) {
    std::vector<double> row(x.begin() + r * cols, x.begin() + (r + 1) * cols);
    const std::vector<double> z = reference_logits(layers, row);
    const double m = *std::max_element(z.begin(), z.end());
    double sum = 0;
    for (double v : z) sum += std::exp(v - m);
    for (std::size_t j = 0; j < z.size(); ++j) {
      const double expect = std::exp(z[j] - m) / sum;
      worst = std::max(worst, std::abs(expect - p.probabilities[static_cast<std::size_t>(r) * z.size() + j]));
    }
  }
  return worst;
}

TEST(SavedModel, ADirectoryAndItsFilesResolveToTheVariablesBundle) {
  test::TempDir tmp;
  const fs::path sm = tmp / "sm";
  test::write_saved_model(sm, mlp());
  const std::string prefix = (sm / "variables" / "variables").string();
  for (const fs::path& p : {sm, sm / "saved_model.pb", sm / "keras_metadata.pb", fs::path(sm.string() + "/")}) {
    const BundleReader r = BundleReader::open(p.string());
    EXPECT_EQ(r.prefix(), prefix) << p;
    EXPECT_CONTAINS(r.resolution_note(), "using the SavedModel's variables " + prefix + " (from ");
  }
  EXPECT_EQ(saved_model_dir_of(prefix), sm.string());
  EXPECT_EQ(BundleReader::open(prefix).prefix(), prefix);  // the prefix itself, as any checkpoint
  EXPECT_FALSE(saved_model_dir_of((tmp / "model.ckpt").string()).has_value());
}

TEST(SavedModel, WithoutItsVariablesItIsAnErrorNamingWhatIsMissing) {
  test::TempDir tmp;
  const fs::path sm = tmp / "sm";
  test::write_saved_model(sm, mlp());
  fs::remove(sm / "variables" / "variables.index");
  EXPECT_CONTAINS(error_of([&] { BundleReader::open(sm.string()); }),
                  sm.string() + " is a SavedModel (saved_model.pb) without its variables: " +
                      (sm / "variables" / "variables.index").string() + " does not exist");
  fs::remove_all(sm / "variables");
  EXPECT_CONTAINS(error_of([&] { BundleReader::open(sm.string()); }),
                  sm.string() + " is a SavedModel (saved_model.pb) without its variables: " +
                      (sm / "variables").string() + " does not exist");
  // keras_metadata.pb named by itself, without saved_model.pb: not a SavedModel.
  fs::create_directories(tmp / "bare");
  std::ofstream(tmp / "bare" / "keras_metadata.pb") << "x";
  EXPECT_CONTAINS(error_of([&] { BundleReader::open((tmp / "bare" / "keras_metadata.pb").string()); }),
                  "keras_metadata.pb is Keras metadata, but " + (tmp / "bare" / "saved_model.pb").string() +
                      " does not exist");
  // A SavedModel and a `checkpoint` state file in one directory: ambiguous.
  test::write_saved_model(tmp / "both", mlp());
  std::ofstream(tmp / "both" / "checkpoint") << "model_checkpoint_path: \"m.ckpt\"\n";
  EXPECT_CONTAINS(error_of([&] { BundleReader::open((tmp / "both").string()); }),
                  "holds both a SavedModel (saved_model.pb) and a `checkpoint` state file");
  EXPECT_EQ(BundleReader::open((tmp / "both" / "saved_model.pb").string()).prefix(),
            (tmp / "both" / "variables" / "variables").string());
}

TEST(SavedModel, KerasMetadataGivesTheArchitectureAndTheNetworkComputesTheReference) {
  test::TempDir tmp;
  for (const bool by_layer : {false, true}) {  // variables/K keys (newer TF), layer_with_weights-N/LEAF (older)
    const fs::path sm = tmp / (by_layer ? "by_layer" : "by_list");
    SavedModelOptions o;
    o.keys_by_layer = by_layer;
    test::write_saved_model(sm, mlp(), o);
    const BundleReader reader = BundleReader::open(sm.string());
    const std::optional<ModelDescription> m = model_from_keras_metadata(reader);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->architecture(), "784-300-100-10 (relu,elu)");
    EXPECT_EQ(m->source, "Keras metadata " + (sm / "keras_metadata.pb").string());
    ASSERT_EQ(m->nodes.size(), 3u);
    EXPECT_EQ(m->nodes[0].name, "dense");
    EXPECT_EQ(m->nodes[1].activation.kind, ActivationKind::kElu);
    EXPECT_EQ(m->nodes[2].activation.kind, ActivationKind::kIdentity);
    EXPECT_EQ(m->nodes[1].variables.at("kernel"), by_layer ? "layer_with_weights-1/kernel/.ATTRIBUTES/VARIABLE_VALUE"
                                                           : "variables/2/.ATTRIBUTES/VARIABLE_VALUE");
    CheckpointModelQuery q;
    const ResolvedCheckpointModel r = resolve_checkpoint_model(reader, q);
    EXPECT_FALSE(r.recorded.has_value());
    EXPECT_EQ(r.how, "as its Keras metadata " + (sm / "keras_metadata.pb").string() + " defines it");
    const double err = max_probability_error(reader, r.model, mlp(), 784);
    std::printf("SavedModel (%s keys) vs an independent forward pass: max abs probability difference %.3g\n",
                by_layer ? "layer_with_weights" : "variables/K", err);
    EXPECT_LT(err, 1e-6);
    // An explicit activation that contradicts the metadata is an error naming both.
    q.activation = Activation{ActivationKind::kTanh};
    EXPECT_CONTAINS(error_of([&] { resolve_checkpoint_model(reader, q); }),
                    "activation tanh contradicts the Keras metadata " + (sm / "keras_metadata.pb").string() +
                        " (dense uses relu)");
    const CheckpointModelReport report = describe_checkpoint_model(reader);
    EXPECT_EQ(report.note, "model: read from the Keras metadata " + (sm / "keras_metadata.pb").string());
  }
}

TEST(SavedModel, BatchNormDropoutAndActivationLayersAreReadFromTheMetadata) {
  test::TempDir tmp;
  // Dense(64, linear) -> BN -> Activation(relu) -> Dropout(0.3) -> Dense(10, softmax);
  // the moving statistics come last in the variables list (non-trainable).
  std::vector<SavedLayer> layers = {
      test::keras_dense("dense", 784, 64, "linear", 11), test::keras_batch_norm("batch_normalization", 64, 13),
      test::keras_layer("Activation", {{"name", "activation"}, {"activation", "relu"}}),
      test::keras_layer("Dropout", {{"name", "dropout"}, {"rate", 0.3}}),
      test::keras_dense("dense_1", 64, 10, "softmax", 17)};
  test::write_saved_model(tmp / "sm", layers);
  const BundleReader reader = BundleReader::open((tmp / "sm").string());
  const ResolvedCheckpointModel r = resolve_checkpoint_model(reader, {});
  const ModelDescription& m = *r.graph;
  ASSERT_EQ(m.nodes.size(), 4u) << m.summary();
  EXPECT_EQ(m.nodes[0].activation.kind, ActivationKind::kIdentity);
  EXPECT_EQ(m.nodes[1].kind, NodeKind::kBatchNorm);
  EXPECT_EQ(m.nodes[1].activation.kind, ActivationKind::kRelu);  // normalised before the activation
  EXPECT_EQ(m.nodes[1].variables.at("moving_mean"), "variables/6/.ATTRIBUTES/VARIABLE_VALUE");  // after dense_1's
  EXPECT_EQ(m.nodes[2].kind, NodeKind::kDropout);
  EXPECT_FLOAT_EQ(m.nodes[2].rate, 0.3f);
  EXPECT_CONTAINS(testing::PrintToString(r.notes), "read: dense_1: softmax on the output");
  EXPECT_CONTAINS(testing::PrintToString(r.notes), "read: batch_normalization: epsilon 0.001, momentum 0.99");
  EXPECT_CONTAINS(testing::PrintToString(r.notes), "read: batch_normalization: activation relu from the layer activation");
  const double err = max_probability_error(reader, r.model, layers, 784);
  std::printf("SavedModel with batch norm vs an independent forward pass: max abs probability difference %.3g\n", err);
  EXPECT_LT(err, 1e-6);

  // Without gamma and beta (scale and center false).
  layers[1] = test::keras_batch_norm("batch_normalization", 64, 13, false, false);
  test::write_saved_model(tmp / "plain", layers);
  const BundleReader plain = BundleReader::open((tmp / "plain").string());
  const ResolvedCheckpointModel p = resolve_checkpoint_model(plain, {});
  EXPECT_FALSE(p.graph->nodes[1].variables.count("gamma"));
  EXPECT_LT(max_probability_error(plain, p.model, layers, 784), 1e-6);
}

TEST(SavedModel, AFunctionalChainAndAFlattenedImageInputAreRead) {
  test::TempDir tmp;
  std::vector<SavedLayer> layers = mlp();
  layers.insert(layers.begin(), test::keras_layer("Flatten", {{"name", "flatten"}}));
  SavedModelOptions o;
  o.input_shape = json::array({nullptr, 28, 28});
  test::write_saved_model(tmp / "sm", layers, o);
  const BundleReader reader = BundleReader::open((tmp / "sm").string());
  const auto m = model_from_keras_metadata(reader);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->input.features, 784);

  // The same network as a functional model: input_1 -> dense -> dense_1 -> dense_2.
  json list = json::array({{{"class_name", "InputLayer"}, {"name", "input_1"},
                            {"config", {{"batch_input_shape", {nullptr, 784}}, {"name", "input_1"}}},
                            {"inbound_nodes", json::array()}}});
  std::string prev = "input_1";
  for (const SavedLayer& l : mlp()) {
    json e = l.keras;
    e["name"] = l.keras["config"]["name"];
    e["inbound_nodes"] = json::array({json::array({json::array({prev, 0, 0, json::object()})})});
    prev = e["name"];
    list.push_back(e);
  }
  const auto functional = [&](const json& layers_json, const json& inputs) {
    tf::SavedMetadata meta;
    tf::SavedObject* root = meta.add_nodes();
    root->set_node_path("root");
    root->set_identifier("_tf_keras_network");
    root->set_metadata(json({{"name", "model"}, {"class_name", "Functional"},
                             {"config", {{"name", "model"}, {"layers", layers_json}, {"input_layers", inputs},
                                         {"output_layers", json::array({json::array({"dense_2", 0, 0})})}}}})
                           .dump());
    return parse_keras_metadata(meta.SerializeAsString(), "f/keras_metadata.pb");
  };
  const KerasModel k = functional(list, json::array({json::array({"input_1", 0, 0})}));
  ASSERT_EQ(k.layers.size(), 3u);
  EXPECT_EQ(k.layers[2].name, "dense_2");
  EXPECT_EQ(k.input_features, 784);
  EXPECT_EQ(model_from_keras(k, reader).architecture(), "784-300-100-10 (relu,elu)");
  // Two inputs: refused, naming them.
  EXPECT_EQ(error_of([&] {
              functional(list, json::array({json::array({"input_1", 0, 0}), json::array({"input_2", 0, 0})}));
            }),
            "f/keras_metadata.pb: the functional model has 2 inputs (input_1, input_2); graft runs a network of one "
            "input");
  // A layer fed by two others (an Add): refused, naming both.
  json branched = list;
  branched[3]["inbound_nodes"] = json::array({json::array({json::array({"dense", 0, 0, json::object()}),
                                                            json::array({"dense_1", 0, 0, json::object()})})});
  EXPECT_EQ(error_of([&] { functional(branched, json::array({json::array({"input_1", 0, 0})})); }),
            "f/keras_metadata.pb: layer dense_2 takes 2 inputs (dense, dense_1); graft runs a chain of layers");
}

// keras_metadata.pb describing `layers` over the variables of `weights`.
std::string error_with_metadata(const test::TempDir& tmp, const std::vector<SavedLayer>& weights,
                                const std::vector<SavedLayer>& metadata) {
  const fs::path sm = tmp / "sm";
  fs::remove_all(sm);
  test::write_saved_model(sm, weights);
  std::ofstream(sm / "keras_metadata.pb", std::ios::binary) << test::keras_metadata_bytes(metadata, {});
  return error_of([&] {
    const BundleReader reader = BundleReader::open(sm.string());
    resolve_checkpoint_model(reader, {});
  });
}

TEST(SavedModel, WhatGraftCannotRepresentIsRefusedByName) {
  test::TempDir tmp;
  const std::string file = (tmp / "sm" / "keras_metadata.pb").string();
  std::vector<SavedLayer> conv = mlp();
  conv.insert(conv.begin(), test::keras_layer("Conv2D", {{"name", "conv2d"}, {"filters", 32}}));
  EXPECT_EQ(error_with_metadata(tmp, mlp(), conv),
            file + ": layer conv2d (Conv2D) is a Conv2D layer, which graft cannot run (graft runs Dense, "
                   "BatchNormalization and Dropout layers, activation layers, Flatten and InputLayer)");
  std::vector<SavedLayer> lstm = mlp();
  lstm[1] = test::keras_layer("LSTM", {{"name", "lstm"}, {"units", 100}});
  EXPECT_CONTAINS(error_with_metadata(tmp, mlp(), lstm), file + ": layer lstm (LSTM) is a LSTM layer");
  std::vector<SavedLayer> swish = mlp();
  swish[1].keras["config"]["activation"] = "swish";
  EXPECT_EQ(error_with_metadata(tmp, mlp(), swish),
            file + ": layer dense_1 (Dense) uses activation 'swish', which graft cannot run (graft runs relu, elu, "
                   "selu, leaky_relu, tanh, sigmoid and linear, and softmax on the output layer)");
  std::vector<SavedLayer> relu_out = mlp();
  relu_out[2].keras["config"]["activation"] = "relu";
  EXPECT_CONTAINS(error_with_metadata(tmp, mlp(), relu_out), file + ": the output layer dense_2 has activation relu");
  std::vector<SavedLayer> no_bias = mlp();
  no_bias[0].keras["config"]["use_bias"] = false;
  EXPECT_CONTAINS(error_with_metadata(tmp, mlp(), no_bias), "layer dense (Dense) has no bias (use_bias false)");
  std::vector<SavedLayer> nested = mlp();
  nested[1] = test::keras_layer("Sequential", {{"name", "sequential_1"}, {"layers", json::array()}});
  EXPECT_CONTAINS(error_with_metadata(tmp, mlp(), nested), "layer sequential_1 (Sequential) is a nested model");
}

TEST(SavedModel, MetadataThatContradictsTheVariablesNamesLayerAndBothShapes) {
  test::TempDir tmp;
  const std::string file = (tmp / "sm" / "keras_metadata.pb").string();
  const std::string vars = (tmp / "sm" / "variables" / "variables").string();
  std::vector<SavedLayer> wrong_units = mlp();
  wrong_units[1].keras["config"]["units"] = 50;
  EXPECT_EQ(error_with_metadata(tmp, mlp(), wrong_units),
            file + ": layer dense_1 (Dense) has 50 units, but its kernel variables/2/.ATTRIBUTES/VARIABLE_VALUE in " +
                vars + " is [300, 100]");
  // The recorded input shape against the first kernel.
  SavedModelOptions o;
  o.input_shape = json::array({nullptr, 100});
  test::write_saved_model(tmp / "sm", mlp());
  std::ofstream(tmp / "sm" / "keras_metadata.pb", std::ios::binary) << test::keras_metadata_bytes(mlp(), o);
  EXPECT_EQ(error_of([&] { resolve_checkpoint_model(BundleReader::open((tmp / "sm").string()), {}); }),
            file + ": layer dense (Dense) takes 100 inputs (the input [None, 100] has 100), but its kernel "
                   "variables/0/.ATTRIBUTES/VARIABLE_VALUE in " + vars + " is [784, 300]");
  // A fourth layer the variables do not hold.
  std::vector<SavedLayer> extra = mlp();
  extra.push_back(test::keras_dense("dense_3", 10, 10, "linear", 7));
  EXPECT_EQ(error_with_metadata(tmp, mlp(), extra),
            file + ": layer dense_3 (Dense) has no kernel in " + vars +
                " (looked for layer_with_weights-3/kernel in its object graph and keys)");
  // Batch norm with scale false over variables that hold gamma.
  std::vector<SavedLayer> bn = {test::keras_dense("dense", 784, 16, "relu", 1),
                                test::keras_batch_norm("batch_normalization", 16, 2),
                                test::keras_dense("dense_1", 16, 10, "linear", 3)};
  std::vector<SavedLayer> no_scale = bn;
  no_scale[1].keras["config"]["scale"] = false;
  EXPECT_CONTAINS(error_with_metadata(tmp, bn, no_scale),
                  ": layer batch_normalization (BatchNormalization) has scale false, but " + vars + " holds its gamma");
}

TEST(SavedModel, ACorruptKerasMetadataIsOneLineNamingTheFile) {
  test::TempDir tmp;
  test::write_saved_model(tmp / "sm", mlp());
  const std::string file = (tmp / "sm" / "keras_metadata.pb").string();
  const std::string good = test::keras_metadata_bytes(mlp(), {});
  const auto error_for = [&](const std::string& bytes) {
    std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
    return error_of([&] { resolve_checkpoint_model(BundleReader::open((tmp / "sm").string()), {}); });
  };
  for (const std::string& bytes : {good.substr(0, good.size() / 2), std::string("\xff\xff\xff\xff garbage", 12)}) {
    const std::string e = error_for(bytes);
    EXPECT_EQ(e.rfind(file + ": ", 0), 0u) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
  EXPECT_EQ(error_for(std::string("\xff\xff\xff\xff garbage", 12)),
            file + ": not a Keras SavedMetadata (truncated or corrupt)");
  tf::SavedMetadata meta;
  meta.add_nodes()->set_node_path("root");
  meta.mutable_nodes(0)->set_identifier("_tf_keras_sequential");
  meta.mutable_nodes(0)->set_metadata("{\"config\": [1, 2");
  EXPECT_EQ(error_for(meta.SerializeAsString()), file + ": the metadata of node root is not valid JSON");
  meta.mutable_nodes(0)->set_metadata("{\"name\": \"my_model\", \"class_name\": \"MyModel\"}");
  meta.mutable_nodes(0)->set_identifier("_tf_keras_model");
  EXPECT_CONTAINS(error_for(meta.SerializeAsString()), file + ": the model my_model (MyModel) is a subclassed Keras model");
  EXPECT_EQ(error_for(""), file + ": no Keras objects in it (an empty SavedMetadata)");
  // inspect reports it instead of failing.
  error_for(std::string("\xff\xff\xff\xff garbage", 12));
  const CheckpointModelReport report = describe_checkpoint_model(BundleReader::open((tmp / "sm").string()));
  EXPECT_FALSE(report.model.has_value());
  EXPECT_CONTAINS(report.note, "its Keras metadata cannot be used: " + file + ": not a Keras SavedMetadata");
}

TEST(SavedModel, WithoutKerasMetadataTheVariablesGiveTheLayersAndTheActivationIsAskedFor) {
  test::TempDir tmp;
  SavedModelOptions o;
  o.keras_metadata = false;
  test::write_saved_model(tmp / "sm", mlp(), o);  // variables/K keys: the layers come from the object graph
  const BundleReader reader = BundleReader::open((tmp / "sm").string());
  EXPECT_EQ(error_of([&] { resolve_checkpoint_model(reader, {}); }),
            reader.prefix() + " does not record its hidden layers' activation (no model description, no "
                              "keras_metadata.pb in the SavedModel " + (tmp / "sm").string() +
                              "): pass activation (relu, elu, selu, leaky_relu:ALPHA, tanh, sigmoid)");
  CheckpointModelQuery q;
  q.activation = Activation{ActivationKind::kRelu};
  const ResolvedCheckpointModel r = resolve_checkpoint_model(reader, q);
  ASSERT_EQ(r.model.layers.size(), 3u);
  EXPECT_EQ(r.model.layers[0].name, "layer_with_weights-0");
  EXPECT_EQ(r.model.layers[0].kernel_key, "variables/0/.ATTRIBUTES/VARIABLE_VALUE");
  EXPECT_EQ(r.how, "rebuilt from its variables");
}

TEST(SavedModel, NothingIsWrittenIntoASavedModel) {
  test::TempDir tmp;
  test::write_saved_model(tmp / "sm", mlp());
  for (const fs::path& p : {tmp / "sm" / "variables" / "variables", tmp / "sm" / "model.ckpt",
                            tmp / "sm" / "assets" / "model.ckpt"}) {
    EXPECT_CONTAINS(error_of([&] { refuse_saving_into_saved_model(p.string(), "--save"); }),
                    "--save " + p.string() + " lies inside the SavedModel " + (tmp / "sm").string() +
                        " (it holds saved_model.pb)");
  }
  EXPECT_EQ(error_of([&] { refuse_saving_into_saved_model((tmp / "sm2" / "model.ckpt").string(), "--save"); }), "");
  EXPECT_EQ(error_of([&] { refuse_saving_into_saved_model((tmp / "sm").string(), "--save"); }), "");  // sm.index beside it
}

}  // namespace
}  // namespace graft
