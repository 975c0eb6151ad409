#include "host/restore/keras_model.h"

#include <fmt/format.h>

#include "checkpoint/error.h"
#include "checkpoint/object_graph.h"
#include "checkpoint/saved_model.h"
#include "checkpoint/tensor_info.h"

namespace graft {
namespace {

class Builder {
 public:
  Builder(const KerasModel& keras, const BundleReader& reader) : k_(keras), reader_(reader) {
    try {
      graph_ = read_object_graph(reader);
    } catch (const Error&) {
      graph_.reset();  // its keys are tried by name below; inspect --verify says what is wrong
    }
  }

  [[noreturn]] void fail(const std::string& what) const { throw Error(k_.origin + ": " + what); }

  static std::string what(const KerasLayer& l) { return "layer " + l.name + " (" + l.class_name + ")"; }

  // The bundle key of a layer's variable, or "" when it has none.
  std::string find_key(const KerasLayer& l, const std::string& leaf) const {
    std::vector<std::string> path = l.object_path;
    if (path.empty()) path.push_back("layer_with_weights-" + std::to_string(l.weight_index));
    std::vector<std::string> full = path;
    full.push_back(leaf);
    if (graph_) {
      if (const auto key = variable_key_at(*graph_, full); key && reader_.find(*key)) return *key;
    }
    std::string direct;
    for (const std::string& p : full) direct += p + "/";
    direct += ".ATTRIBUTES/VARIABLE_VALUE";
    return reader_.find(direct) ? direct : "";
  }

  std::string path_text(const KerasLayer& l) const {
    return l.object_path.empty() ? "layer_with_weights-" + std::to_string(l.weight_index) : l.object_path.front();
  }

  std::string require(const KerasLayer& l, const std::string& leaf) const {
    const std::string key = find_key(l, leaf);
    if (key.empty()) {
      fail(what(l) + " has no " + leaf + " in " + reader_.prefix() + " (looked for " + path_text(l) + "/" + leaf +
           (graph_ ? " in its object graph and keys)" : " among its keys; it has no object graph)"));
    }
    return key;
  }

  const Shape& shape(const std::string& key) const { return reader_.find(key)->info.shape; }

  ModelDescription build() {
    ModelDescription m;
    m.source = "Keras metadata " + k_.origin;
    int64_t input = k_.input_features.value_or(0), width = input;
    for (const KerasLayer& l : k_.layers) {
      ModelNode n;
      n.kind = l.kind;
      n.name = l.name;
      n.activation = l.activation;
      if (l.kind == NodeKind::kDense) {
        const std::string kernel = require(l, "kernel"), bias = require(l, "bias");
        const Shape& ks = shape(kernel);
        if (ks.size() != 2 || ks[1] != l.units) {
          fail(fmt::format("{} has {} units, but its kernel {} in {} is {}", what(l), l.units, kernel, reader_.prefix(),
                           shape_string(ks)));
        }
        if (width == 0) {
          width = input = ks[0];
          m.read.push_back(fmt::format("input: {} features, from {}'s shape (the metadata records no input shape)",
                                       width, kernel));
        } else if (ks[0] != width) {
          const std::string from = m.nodes.empty() ? "the input " + k_.input_shape + " has"
                                                   : "the layer before it, " + m.nodes.back().name + ", gives";
          fail(fmt::format("{} takes {} inputs ({} {}), but its kernel {} in {} is {}", what(l), width, from, width,
                           kernel, reader_.prefix(), shape_string(ks)));
        }
        if (shape(bias) != Shape{l.units}) {
          fail(fmt::format("{} has {} units, but its bias {} in {} is {}", what(l), l.units, bias, reader_.prefix(),
                           shape_string(shape(bias))));
        }
        n.units = l.units;
        n.variables = {{"kernel", kernel}, {"bias", bias}};
        width = l.units;
      } else if (l.kind == NodeKind::kBatchNorm) {
        n.units = width;
        n.batch_norm = l.batch_norm;
        for (const char* leaf : {"gamma", "beta", "moving_mean", "moving_variance"}) {
          const bool wanted = (leaf != std::string("gamma") || l.batch_norm.scale) &&
                              (leaf != std::string("beta") || l.batch_norm.center);
          const std::string key = find_key(l, leaf);
          if (!wanted && !key.empty()) {
            fail(fmt::format("{} has {} false, but {} holds its {} ({})", what(l),
                             leaf == std::string("gamma") ? "scale" : "center", reader_.prefix(), leaf, key));
          }
          if (!wanted) continue;
          const std::string k = key.empty() ? require(l, leaf) : key;
          if (shape(k) != Shape{width}) {
            fail(fmt::format("{} normalizes the {} features of the layer before it, but its {} {} in {} is {}", what(l),
                             width, leaf, k, reader_.prefix(), shape_string(shape(k))));
          }
          n.variables[leaf] = k;
        }
        m.read.push_back(fmt::format("{}: epsilon {:.6g}, momentum {:.6g}{}{} (keras_metadata.pb)", l.name,
                                     l.batch_norm.epsilon, l.batch_norm.momentum, l.batch_norm.center ? "" : ", no beta",
                                     l.batch_norm.scale ? "" : ", no gamma"));
      } else {
        n.units = width;
        n.rate = static_cast<float>(l.rate);
        m.read.push_back(fmt::format("{}: dropout rate {:.6g} (keras_metadata.pb), off in evaluation", l.name, l.rate));
      }
      if (!l.activation_from.empty()) {
        m.read.push_back(l.name + ": activation " + activation_name(l.activation) + " from the layer " +
                         l.activation_from + " after it");
      }
      if (l.softmax) {
        m.read.push_back(l.name + ": softmax on the output (graft computes the probabilities from the logits itself)");
      }
      if (!l.trainable) {
        for (const auto& [leaf, key] : n.variables) m.frozen.push_back(key);
      }
      m.nodes.push_back(std::move(n));
    }
    m.input.features = input;
    m.output.classes = m.nodes.back().units;
    for (int64_t i = 0; i < m.output.classes; ++i) m.output.labels.push_back(static_cast<int>(i));
    if (!k_.loss.empty() && k_.loss != "sparse_categorical_crossentropy") {
      m.assumptions.push_back("loss: sparse softmax cross-entropy (graft's; the model was compiled with " + k_.loss +
                              ")");
    }
    m.assumptions.push_back("output i stands for label i (keras_metadata.pb does not record which class each output "
                            "is)");
    m.assumptions.push_back("the input takes pixels scaled to [0, 1] (keras_metadata.pb does not say how inputs were "
                            "scaled)");
    try {
      m.validate();
    } catch (const Error& e) {
      fail(e.what());
    }
    return m;
  }

 private:
  const KerasModel& k_;
  const BundleReader& reader_;
  std::optional<ObjectGraphInfo> graph_;
};

}  // namespace

ModelDescription model_from_keras(const KerasModel& keras, const BundleReader& reader) {
  return Builder(keras, reader).build();
}

std::optional<ModelDescription> model_from_keras_metadata(const BundleReader& reader) {
  const std::optional<std::string> dir = saved_model_dir_of(reader.prefix());
  if (!dir) return std::nullopt;
  const std::string path = keras_metadata_path(*dir);
  const std::optional<std::string> bytes = read_keras_metadata_file(path);
  if (!bytes) return std::nullopt;
  return model_from_keras(parse_keras_metadata(*bytes, path), reader);
}

}  // namespace graft
