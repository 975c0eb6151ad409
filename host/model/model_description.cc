// Over 500 lines: the description's one definition in three faces that
// must agree field by field (validation, the printed summary, the JSON both
// ways); apart, a new field would be added to one face and forgotten in another.
#include "host/model/model_description.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "checkpoint/error.h"
#include "host/model/layer_activations.h"
#include "host/model/op_table.h"
#include "host/model/regularization_spec.h"

namespace graft {

const char* node_kind_name(NodeKind kind) { return op_info(kind).name.data(); }

std::optional<NodeKind> parse_node_kind(const std::string& text) {
  for (const OpInfo& op : kOpTable) {
    if (op.name == text) return op.kind;
  }
  return std::nullopt;
}

int64_t ModelDescription::node_inputs(std::size_t node) const {
  return node == 0 ? input.features : nodes[node - 1].units;
}

int64_t ModelDescription::node_parameters(std::size_t node) const {
  const ModelNode& n = nodes[node];
  switch (n.kind) {
    case NodeKind::kDense: return node_inputs(node) * n.units + n.units;
    case NodeKind::kBatchNorm:
      return n.units * (2 + (n.batch_norm.scale ? 1 : 0) + (n.batch_norm.center ? 1 : 0));
    case NodeKind::kDropout: return 0;
  }
  return 0;
}

namespace {

void check_finite(double v, const std::string& field) {
  if (!std::isfinite(v)) throw Error("model description: " + field + " is not finite");
}


}  // namespace

std::optional<double> idx_pixel_scale(const ModelInput& input) {
  if (input.read_from.empty() || input.scale == 1.0 / 255.0) return std::nullopt;
  return input.scale;
}

std::string input_transform_text(const ModelInput& input) {
  return fmt::format("raw value x {:.6g}{}", input.scale, input.mean.empty() ? "" : ", then standardized per feature");
}

void ModelDescription::validate() const {
  if (input.features <= 0) throw Error("model description: input.features must be positive");
  check_finite(input.scale, "input.scale");
  if (!input.mean.empty() || !input.stddev.empty()) {
    if (static_cast<int64_t>(input.mean.size()) != input.features ||
        static_cast<int64_t>(input.stddev.size()) != input.features) {
      throw Error(fmt::format("model description: input.mean and input.stddev need {} values each, not {} and {}",
                              input.features, input.mean.size(), input.stddev.size()));
    }
    for (std::size_t i = 0; i < input.stddev.size(); ++i) {
      if (!std::isfinite(input.mean[i]) || !std::isfinite(input.stddev[i]) || input.stddev[i] <= 0.0f) {
        throw Error(fmt::format("model description: input feature {} has mean {} and stddev {}", i, input.mean[i],
                                input.stddev[i]));
      }
    }
  }
  if (nodes.empty()) throw Error("model description: no nodes");
  std::set<std::string> names;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const ModelNode& n = nodes[i];
    if (n.name.empty()) throw Error(fmt::format("model description: node {} has no name", i));
    if (!names.insert(n.name).second) throw Error("model description: two nodes are named '" + n.name + "'");
    if (n.units <= 0) throw Error("model description: node " + n.name + " has no units");
    const OpInfo& op = op_info(n.kind);
    if (n.kind != NodeKind::kDense && n.units != node_inputs(i)) {
      throw Error(fmt::format("model description: {} node {} has {} units but {} inputs (it keeps the width)",
                              node_kind_name(n.kind), n.name, n.units, node_inputs(i)));
    }
    if (n.kind == NodeKind::kBatchNorm) {
      const BatchNormAttrs& b = n.batch_norm;
      if (!std::isfinite(b.momentum) || b.momentum < 0.0 || b.momentum > 1.0) {
        throw Error(fmt::format("model description: batch_norm node {} has momentum {} (batch_norm.momentum must "
                                "be in [0, 1])",
                                n.name, b.momentum));
      }
      if (!std::isfinite(b.epsilon) || b.epsilon <= 0.0f) {
        throw Error(fmt::format("model description: batch_norm node {} has epsilon {} (batch_norm.epsilon must be "
                                "positive)",
                                n.name, b.epsilon));
      }
    }
    if (n.kind == NodeKind::kDropout) {
      if (!std::isfinite(n.rate) || n.rate < 0.0f || n.rate >= 1.0f) {
        throw Error(fmt::format("model description: dropout node {} has rate {} (rate must be in [0, 1))", n.name,
                                n.rate));
      }
      if (n.activation.kind != ActivationKind::kIdentity) {
        throw Error("model description: dropout node " + n.name + " has activation " + activation_name(n.activation) +
                    " (a dropout node's activation is the identity)");
      }
    }
    for (std::size_t l = 0; l < op.leaf_count; ++l) {
      const std::string leaf(op.leaves[l].name);
      if (!node_has_leaf(n, leaf)) {
        if (n.variables.count(leaf)) {
          throw Error("model description: batch_norm node " + n.name + " names a " + leaf + " variable but has " +
                      (leaf == "gamma" ? "scale" : "center") + " off");
        }
        continue;
      }
      const auto it = n.variables.find(leaf);
      if (it == n.variables.end() || it->second.empty()) {
        throw Error(std::string("model description: ") + node_kind_name(n.kind) + " node " + n.name + " names no " +
                    leaf + " variable");
      }
    }
    validate_node_regularizer(n.regularizer, "model description: node " + n.name + " regularizer");
    for (const auto& [leaf, variable] : n.variables) {
      bool known = false;
      for (std::size_t l = 0; l < op.leaf_count; ++l) known = known || op.leaves[l].name == leaf;
      if (!known) {
        throw Error(std::string("model description: ") + node_kind_name(n.kind) + " node " + n.name +
                    " has no leaf named '" + leaf + "'");
      }
    }
  }
  if (output.classes != nodes.back().units) {
    throw Error(fmt::format("model description: output.classes is {} but the last node ({}) has {} units",
                            output.classes, nodes.back().name, nodes.back().units));
  }
  if (static_cast<int64_t>(output.labels.size()) != output.classes) {
    throw Error(fmt::format("model description: output.labels has {} labels for {} classes", output.labels.size(),
                            output.classes));
  }
  std::set<int> seen;
  for (int label : output.labels) {
    if (label == kNoClass) continue;
    if (label < 0 || !seen.insert(label).second) {
      throw Error(fmt::format("model description: output label {} is negative or repeated", label));
    }
  }
  if (seen.empty()) throw Error("model description: no output stands for a class");
  if (!output.class_names.empty() && *seen.rbegin() >= static_cast<int>(output.class_names.size())) {
    throw Error(fmt::format("model description: output label {} has no name in output.class_names ({} names)",
                            *seen.rbegin(), output.class_names.size()));
  }
  if (optimizer) check_finite_hyperparameters(*optimizer);
  if (optimizer) validate_lr_schedule(optimizer->schedule);
}

std::vector<int> trained_classes(const ModelDescription& model) {
  std::vector<int> out;
  for (int l : model.output.labels) {
    if (l != kNoClass) out.push_back(l);
  }
  return out;
}

std::string label_list_text(const std::vector<int>& with_unused) {
  std::vector<int> labels;
  for (int l : with_unused) {
    if (l != kNoClass) labels.push_back(l);
  }
  const std::size_t unused = with_unused.size() - labels.size();
  if (unused > 0) return label_list_text(labels) + fmt::format(" (and {} outputs that stand for no class)", unused);
  if (labels.empty()) return "";
  bool run = labels.size() > 2;
  for (std::size_t i = 1; i < labels.size(); ++i) run = run && labels[i] == labels[i - 1] + 1;
  if (run) return fmt::format("{}-{}", labels.front(), labels.back());
  std::string text;
  for (std::size_t i = 0; i < labels.size(); ++i) text += (i ? "," : "") + std::to_string(labels[i]);
  return text;
}

std::string ModelDescription::architecture() const {
  // Dense widths only; batch norm and dropout keep the width and are named after.
  std::string text = std::to_string(input.features);
  int dense = 0;
  bool batch_norm = false;
  std::vector<std::string> rates;
  std::size_t last_dense = 0;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].kind == NodeKind::kDense) last_dense = i;
  }
  // Each hidden layer's activation: its dense node's, or that of the batch
  // norm after it when the normalisation comes before the activation.
  std::vector<Activation> hidden;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const ModelNode& n = nodes[i];
    if (n.kind == NodeKind::kDense) {
      text += "-" + std::to_string(n.units);
      ++dense;
      if (i < last_dense) hidden.push_back(n.activation);
    } else if (n.kind == NodeKind::kBatchNorm && i < last_dense && !hidden.empty() &&
               hidden.back().kind == ActivationKind::kIdentity) {
      hidden.back() = n.activation;
    }
    batch_norm = batch_norm || n.kind == NodeKind::kBatchNorm;
    if (n.kind == NodeKind::kDropout) rates.push_back(fmt::format("{}", n.rate));
  }
  if (dense > 1) {
    const std::string each = layer_activations_text(hidden);  // one name when they agree
    text += " (" + (each.find(',') == std::string::npos ? activation_name(hidden.front()) : each) + ")";
  }
  if (batch_norm) text += " + batch norm";
  if (!rates.empty()) text += " + dropout " + fmt::format("{}", fmt::join(rates, ","));
  return text;
}

namespace {

std::string activation_text(const Activation& a) {
  if (a.kind == ActivationKind::kLeakyRelu) return fmt::format("leaky_relu:{}", a.alpha);
  return activation_name(a);
}

std::string optimizer_text(const OptimizerConfig& o) {
  std::string text = fmt::format("{} lr {}", optimizer_name(o.kind), o.learning_rate);
  switch (o.kind) {
    case OptimizerKind::kSgd: break;
    case OptimizerKind::kMomentum:
    case OptimizerKind::kNesterov: text += fmt::format(" momentum {}", o.momentum); break;
    case OptimizerKind::kAdagrad: text += fmt::format(" initial accumulator {}", o.adagrad_initial); break;
    case OptimizerKind::kRmsProp:
      text += fmt::format(" decay {} momentum {} epsilon {}", o.rho, o.rmsprop_momentum, o.rmsprop_epsilon);
      break;
    case OptimizerKind::kAdam:
      text += fmt::format(" beta1 {} beta2 {} epsilon {}", o.beta1, o.beta2, o.adam_epsilon);
      break;
  }
  if (o.clip_value > 0) text += fmt::format(", clip by value {}", o.clip_value);
  if (o.clip_norm > 0) text += fmt::format(", clip by global norm {}", o.clip_norm);
  if (o.schedule.kind != math::LrScheduleKind::kConstant) text += ", lr schedule " + lr_schedule_text(o.schedule);
  return text;
}

std::string thousands(int64_t v) {
  std::string digits = std::to_string(v);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

std::string ModelDescription::summary() const {
  const std::set<std::string> frozen_set(frozen.begin(), frozen.end());
  std::size_t name_width = 5, kind_width = 6;
  for (const ModelNode& n : nodes) {
    name_width = std::max(name_width, n.name.size());
    kind_width = std::max(kind_width, std::string(node_kind_name(n.kind)).size());
  }
  std::string text = fmt::format("model ({})\n", source.empty() ? "no source recorded" : source);
  text += fmt::format("  input: {} features", input.features);
  if (input.scale != 1.0) text += fmt::format(", raw value x {:.6g}", input.scale);
  if (!input.mean.empty()) text += ", standardized per feature (mean/stddev stored)";
  if (!input.read_from.empty()) text += " (read from the " + input.read_from + ")";
  text += "\n";
  text += fmt::format("  {:<{}}  {:<{}} {:>7}  {:<15} {:>11}  {}\n", "layer", name_width, "kind", kind_width, "output",
                      "activation", "parameters", "trainable");
  std::vector<std::string> notes;  // batch norm's and dropout's attributes, below the table
  int64_t total = 0, trainable_total = 0;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const ModelNode& n = nodes[i];
    const int64_t params = node_parameters(i);
    int frozen_leaves = 0;
    for (const auto& [leaf, variable] : n.variables) frozen_leaves += frozen_set.count(variable) ? 1 : 0;
    const char* state = n.variables.empty()      ? "-"
                        : frozen_leaves == 0 ? "trainable"
                        : frozen_leaves == static_cast<int>(n.variables.size()) ? "frozen"
                                                                               : "partly frozen";
    total += params;
    if (frozen_leaves == 0) trainable_total += params;
    text += fmt::format("  {:<{}}  {:<{}} {:>7}  {:<15} {:>11}  {}\n", n.name, name_width, node_kind_name(n.kind),
                        kind_width, n.units, activation_text(n.activation), thousands(params), state);
    if (n.kind == NodeKind::kBatchNorm) {
      const BatchNormAttrs& b = n.batch_norm;
      const bool before = n.activation.kind != ActivationKind::kIdentity;
      const bool after = !before && i > 0 && nodes[i - 1].activation.kind != ActivationKind::kIdentity;
      std::string note = fmt::format("{}: batch norm {}, momentum {:.6g}, epsilon {}{}{}", n.name,
                                     before  ? "before the activation"
                                     : after ? "after the activation"
                                             : "with no activation",
                                     b.momentum, b.epsilon, b.scale ? "" : ", no gamma", b.center ? "" : ", no beta");
      const auto mean = n.variables.find("moving_mean");
      const bool stats_frozen = mean != n.variables.end() && frozen_set.count(mean->second);
      if (frozen_leaves > 0 && !stats_frozen) {
        note += "; frozen, statistics still updated in training (TF1 behaviour)";
      } else if (stats_frozen) {
        note += "; frozen: inference mode in training (moving statistics fixed)";
      }
      notes.push_back(note);
    } else if (n.kind == NodeKind::kDropout) {
      notes.push_back(fmt::format("{}: dropout rate {} in training, the identity in evaluation", n.name, n.rate));
    }
  }
  for (const std::string& note : notes) text += "  " + note + "\n";
  text += fmt::format("  parameters: {} ({} in fully trainable layers)\n", thousands(total), thousands(trainable_total));
  text += fmt::format("  output: {} classes, original labels {}\n", output.classes, label_list_text(output.labels));
  if (!output.class_names.empty()) {
    std::string names;
    for (int l : output.labels) {
      if (!names.empty()) names += ",";
      names += l >= 0 && static_cast<std::size_t>(l) < output.class_names.size() ? output.class_names[static_cast<std::size_t>(l)] : "-";
    }
    text += "  class names: " + names + "\n";
  }
  if (!output.label_column.empty()) {
    text += "  labels from the CSV column: " + output.label_column + "\n";
  }
  text += "  loss: " + loss + "\n";
  text += "  optimizer: " + (optimizer ? optimizer_text(*optimizer) : std::string("not recorded")) + "\n";
  for (const std::string& r : read) text += "  read: " + r + "\n";
  std::vector<NodeRegularizer> regularizers;
  std::vector<std::string> node_names;
  for (const ModelNode& n : nodes) regularizers.push_back(n.regularizer), node_names.push_back(n.name);
  const std::string regularization = regularization_summary(regularizers, node_names);
  if (!regularization.empty()) text += "  regularization: " + regularization + "\n";
  for (const std::string& a : assumptions) text += "  assumed: " + a + "\n";
  return text;
}

// ---------------------------------------------------------------------------
// JSON

namespace {

using nlohmann::json;

json optimizer_to_json(const OptimizerConfig& o) {
  json j{{"name", optimizer_name(o.kind)},
              {"learning_rate", o.learning_rate},
              {"momentum", o.momentum},
              {"adagrad_initial", o.adagrad_initial},
              {"rho", o.rho},
              {"rmsprop_momentum", o.rmsprop_momentum},
              {"rmsprop_epsilon", o.rmsprop_epsilon},
              {"beta1", o.beta1},
              {"beta2", o.beta2},
              {"adam_epsilon", o.adam_epsilon},
              {"clip_value", o.clip_value},
              {"clip_norm", o.clip_norm}};
  if (o.schedule.kind != math::LrScheduleKind::kConstant) j["lr_schedule"] = lr_schedule_text(o.schedule);
  return j;
}

json plateau_to_json(const PlateauState& p) {
  json j{{"wait", p.wait}, {"cooldown_left", p.cooldown_left}};
  j["best"] = std::isfinite(p.best) ? json(p.best) : json(nullptr);  // null: no epoch yet
  return j;
}

// Reads fields with their paths in errors ("nodes[2].units: ...").
class Fields {
 public:
  Fields(const json& j, std::string path, const std::string& origin) : j_(j), path_(std::move(path)), origin_(origin) {
    if (!j_.is_object()) fail("is not an object");
  }
  [[noreturn]] void fail(const std::string& what, const std::string& key = "") const {
    const std::string where = key.empty() ? path_ : (path_.empty() ? key : path_ + "." + key);
    throw Error(origin_ + ": model description: " + (where.empty() ? "" : where + " ") + what);
  }
  bool has(const char* key) const { return j_.contains(key); }
  const json& at(const char* key) const {
    if (!j_.contains(key)) fail("is missing", key);
    return j_.at(key);
  }
  std::string str(const char* key) const {
    const json& v = at(key);
    if (!v.is_string()) fail("is not a string", key);
    return v.get<std::string>();
  }
  int64_t integer(const char* key) const {
    const json& v = at(key);
    if (!v.is_number_integer()) fail("is not an integer", key);
    return v.get<int64_t>();
  }
  double number(const char* key) const {
    const json& v = at(key);
    if (!v.is_number()) fail("is not a number", key);
    return v.get<double>();
  }
  float number_or(const char* key, float fallback) const {
    return has(key) ? static_cast<float>(number(key)) : fallback;
  }
  bool boolean_or(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const json& v = at(key);
    if (!v.is_boolean()) fail("is not true or false", key);
    return v.get<bool>();
  }
  std::vector<std::string> strings(const char* key) const {
    std::vector<std::string> out;
    if (!has(key)) return out;
    const json& v = at(key);
    if (!v.is_array()) fail("is not an array", key);
    for (const json& e : v) {
      if (!e.is_string()) fail("holds a non-string", key);
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  std::vector<float> floats(const char* key) const {
    std::vector<float> out;
    if (!has(key)) return out;
    const json& v = at(key);
    if (!v.is_array()) fail("is not an array", key);
    for (const json& e : v) {
      if (!e.is_number()) fail("holds a non-number", key);
      out.push_back(e.get<float>());
    }
    return out;
  }
  std::string path(const char* key) const { return path_.empty() ? key : path_ + "." + key; }

 private:
  const json& j_;
  std::string path_;
  const std::string& origin_;
};

OptimizerConfig optimizer_from_json(const Fields& f) {
  OptimizerConfig o;
  const std::string name = f.str("name");
  const auto kind = parse_optimizer(name);
  if (!kind) f.fail("names an unknown optimizer '" + name + "'", "name");
  o.kind = *kind;
  o.learning_rate = static_cast<float>(f.number("learning_rate"));
  o.momentum = f.number_or("momentum", o.momentum);
  o.adagrad_initial = f.number_or("adagrad_initial", o.adagrad_initial);
  o.rho = f.number_or("rho", o.rho);
  o.rmsprop_momentum = f.number_or("rmsprop_momentum", o.rmsprop_momentum);
  o.rmsprop_epsilon = f.number_or("rmsprop_epsilon", o.rmsprop_epsilon);
  o.beta1 = f.number_or("beta1", o.beta1);
  o.beta2 = f.number_or("beta2", o.beta2);
  o.adam_epsilon = f.number_or("adam_epsilon", o.adam_epsilon);
  o.clip_value = f.number_or("clip_value", 0.0f);
  o.clip_norm = f.number_or("clip_norm", 0.0f);
  if (f.has("lr_schedule")) {
    try {
      o.schedule = parse_lr_schedule(f.str("lr_schedule"));
    } catch (const Error& e) {
      f.fail(std::string("is not a schedule graft knows: ") + e.what(), "lr_schedule");
    }
  }
  return o;
}

}  // namespace

std::string model_to_json(const ModelDescription& m) {
  json j;
  j["format"] = "graft-model";
  j["version"] = ModelDescription::kFormatVersion;
  j["source"] = m.source;
  json input{{"features", m.input.features}, {"scale", m.input.scale}};
  if (!m.input.mean.empty()) {
    input["mean"] = m.input.mean;
    input["stddev"] = m.input.stddev;
  }
  if (!m.input.read_from.empty()) input["read_from"] = m.input.read_from;
  j["input"] = input;
  j["nodes"] = json::array();
  for (const ModelNode& n : m.nodes) {
    json node{{"kind", node_kind_name(n.kind)},
              {"name", n.name},
              {"units", n.units},
              {"activation", activation_name(n.activation)},
              {"variables", n.variables}};
    if (n.activation.kind == ActivationKind::kLeakyRelu) node["alpha"] = n.activation.alpha;
    if (n.kind == NodeKind::kBatchNorm) {
      const BatchNormAttrs& b = n.batch_norm;
      node["batch_norm"] = json{{"momentum", b.momentum},
                                {"epsilon", b.epsilon},
                                {"center", b.center},
                                {"scale", b.scale},
                                {"frozen_updates_statistics", b.frozen_updates_statistics}};
    }
    if (n.kind == NodeKind::kDropout) node["rate"] = n.rate;
    if (n.regularizer.any()) node["regularizer"] = node_regularizer_text(n.regularizer);
    j["nodes"].push_back(node);
  }
  j["output"] = json{{"classes", m.output.classes}, {"labels", m.output.labels}};
  if (!m.output.class_names.empty()) j["output"]["class_names"] = m.output.class_names;
  if (!m.output.label_column.empty()) j["output"]["label_column"] = m.output.label_column;
  j["loss"] = m.loss;
  if (m.optimizer) j["optimizer"] = optimizer_to_json(*m.optimizer);
  if (m.optimizer && m.optimizer->schedule.kind == math::LrScheduleKind::kPlateau) j["plateau"] = plateau_to_json(m.plateau);
  j["frozen"] = m.frozen;
  if (!m.scalar_names.empty()) j["scalar_names"] = m.scalar_names;
  if (!m.slot_set.empty()) j["slot_set"] = m.slot_set;
  if (!m.slot_names.empty()) j["slot_names"] = m.slot_names;
  j["assumptions"] = m.assumptions;
  if (!m.read.empty()) j["read"] = m.read;
  return j.dump(1);
}

ModelDescription model_from_json(const std::string& text, const std::string& origin) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(origin + ": model description is not valid JSON (" + e.what() + ")");
  }
  const Fields top(j, "", origin);
  if (top.str("format") != "graft-model") top.fail("is not 'graft-model'", "format");
  const int64_t version = top.integer("version");
  if (version > ModelDescription::kFormatVersion || version < 1) {
    top.fail(fmt::format("is {}; this graft reads version {} (a newer graft wrote it?)", version,
                         ModelDescription::kFormatVersion),
             "version");
  }
  ModelDescription m;
  if (top.has("source")) m.source = top.str("source");
  const Fields input(top.at("input"), "input", origin);
  m.input.features = input.integer("features");
  m.input.scale = input.number("scale");
  m.input.mean = input.floats("mean");
  m.input.stddev = input.floats("stddev");
  if (input.has("read_from")) m.input.read_from = input.str("read_from");

  const json& nodes = top.at("nodes");
  if (!nodes.is_array()) top.fail("is not an array", "nodes");
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const Fields f(nodes[i], fmt::format("nodes[{}]", i), origin);
    ModelNode n;
    const std::string kind = f.str("kind");
    const auto parsed_kind = parse_node_kind(kind);
    if (!parsed_kind) f.fail("is an unknown node kind '" + kind + "'", "kind");
    n.kind = *parsed_kind;
    n.name = f.str("name");
    n.units = f.integer("units");
    const std::string act = f.str("activation");
    const auto activation = parse_activation(act);
    if (!activation) f.fail("is an unknown activation '" + act + "'", "activation");
    n.activation = *activation;
    if (n.activation.kind == ActivationKind::kLeakyRelu) n.activation.alpha = f.number_or("alpha", n.activation.alpha);
    if (f.has("regularizer")) {
      try {
        n.regularizer = parse_node_regularizer(f.str("regularizer"));
      } catch (const Error& e) {
        f.fail(std::string("is not a regularizer graft knows: ") + e.what(), "regularizer");
      }
    }
    const json& vars = f.at("variables");
    if (!vars.is_object()) f.fail("is not an object", "variables");
    for (const auto& [leaf, variable] : vars.items()) {
      if (!variable.is_string()) f.fail("holds a non-string", "variables." + leaf);
      n.variables[leaf] = variable.get<std::string>();
    }
    if (n.kind == NodeKind::kBatchNorm && f.has("batch_norm")) {
      const Fields b(f.at("batch_norm"), f.path("batch_norm"), origin);
      n.batch_norm.momentum = b.has("momentum") ? b.number("momentum") : n.batch_norm.momentum;
      n.batch_norm.epsilon = b.number_or("epsilon", n.batch_norm.epsilon);
      n.batch_norm.center = b.boolean_or("center", n.batch_norm.center);
      n.batch_norm.scale = b.boolean_or("scale", n.batch_norm.scale);
      n.batch_norm.frozen_updates_statistics =
          b.boolean_or("frozen_updates_statistics", n.batch_norm.frozen_updates_statistics);
    }
    if (n.kind == NodeKind::kDropout) n.rate = static_cast<float>(f.number("rate"));
    m.nodes.push_back(std::move(n));
  }
  const Fields output(top.at("output"), "output", origin);
  m.output.classes = output.integer("classes");
  const json& labels = output.at("labels");
  if (!labels.is_array()) output.fail("is not an array", "labels");
  for (const json& l : labels) {
    if (!l.is_number_integer()) output.fail("holds a non-integer", "labels");
    m.output.labels.push_back(l.get<int>());
  }
  m.output.class_names = output.strings("class_names");
  if (output.has("label_column")) m.output.label_column = output.str("label_column");
  m.loss = top.str("loss");
  if (m.loss != "sparse_softmax_cross_entropy") top.fail("is an unknown loss '" + m.loss + "'", "loss");
  if (top.has("optimizer")) m.optimizer = optimizer_from_json(Fields(top.at("optimizer"), "optimizer", origin));
  if (top.has("plateau")) {
    const Fields p(top.at("plateau"), "plateau", origin);
    m.plateau.wait = static_cast<int>(p.integer("wait"));
    m.plateau.cooldown_left = static_cast<int>(p.integer("cooldown_left"));
    if (!p.at("best").is_null()) m.plateau.best = p.number("best");
  }
  m.frozen = top.strings("frozen");
  if (top.has("scalar_names")) {
    const json& names = top.at("scalar_names");
    if (!names.is_object()) top.fail("is not an object", "scalar_names");
    for (const auto& [scalar, name] : names.items()) {
      if (!name.is_string() || name.get<std::string>().empty()) top.fail("holds a name that is not a string", "scalar_names." + scalar);
      m.scalar_names[scalar] = name.get<std::string>();
    }
  }
  if (top.has("slot_set")) m.slot_set = top.str("slot_set");
  if (top.has("slot_names")) {
    const Fields names(top.at("slot_names"), top.path("slot_names"), origin);
    for (const auto& [variable, keys] : top.at("slot_names").items()) m.slot_names[variable] = names.strings(variable.c_str());
  }
  m.assumptions = top.strings("assumptions");
  m.read = top.strings("read");
  try {
    m.validate();
  } catch (const Error& e) {
    throw Error(origin + ": " + e.what());
  }
  return m;
}

}  // namespace graft
