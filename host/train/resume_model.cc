#include "host/train/resume_model.h"

#include <algorithm>
#include <sstream>

namespace graft {
namespace {

template <typename T>
std::string join(const std::vector<T>& values) {
  std::ostringstream out;
  for (std::size_t i = 0; i < values.size(); ++i) out << (i ? "," : "") << values[i];
  return out.str();
}

std::string number(float v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

std::string activation_text(const Activation& a) {
  return a.kind == ActivationKind::kLeakyRelu ? "leaky_relu:" + number(a.alpha) : activation_name(a);
}

bool same_activation(const Activation& a, const Activation& b) {
  return a.kind == b.kind && (a.kind != ActivationKind::kLeakyRelu || a.alpha == b.alpha);
}

}  // namespace

ResolvedModel resolve_resumed_model(const ModelDescription& recorded, const ModelRequest& request,
                                    bool allow_optimizer_overrides) {
  ResolvedModel r;
  r.model = recorded;
  auto refuse = [&](const std::string& field, const std::string& requested, const std::string& had) {
    r.contradictions.push_back({field, requested, had, false});
  };
  // The request speaks of dense layers (--hidden, --activation,
  // --layer-names); batch norm and dropout nodes belong to the layer before
  // them, and a batch norm before the activation carries the layer's activation.
  std::vector<ModelNode> nodes;
  for (const ModelNode& n : recorded.nodes) {
    if (n.kind == NodeKind::kDense) {
      nodes.push_back(n);
    } else if (!nodes.empty() && n.kind == NodeKind::kBatchNorm &&
               nodes.back().activation.kind == ActivationKind::kIdentity) {
      nodes.back().activation = n.activation;
    }
  }
  if (nodes.empty()) nodes = recorded.nodes;

  if (request.hidden) {
    std::vector<int64_t> had;
    for (std::size_t i = 0; i + 1 < nodes.size(); ++i) had.push_back(nodes[i].units);
    if (*request.hidden != had) refuse("hidden", join(*request.hidden), had.empty() ? "none" : join(had));
  }
  if (request.outputs && *request.outputs != recorded.nodes.back().units) {
    refuse("outputs", std::to_string(*request.outputs), std::to_string(recorded.nodes.back().units));
  }
  if (request.activation) {
    for (std::size_t i = 0; i + 1 < nodes.size(); ++i) {
      if (!same_activation(*request.activation, nodes[i].activation)) {
        refuse("activation", activation_text(*request.activation),
               activation_text(nodes[i].activation) + " (" + nodes[i].name + ")");
        break;
      }
    }
  }
  if (request.layer_activations) {
    std::vector<std::string> hidden_names;
    std::vector<Activation> had;
    for (std::size_t i = 0; i + 1 < nodes.size(); ++i) {
      hidden_names.push_back(nodes[i].name);
      had.push_back(nodes[i].activation);
    }
    // Layers the request does not name keep their recorded activation.
    std::vector<Activation> want = resolve_layer_activations(*request.layer_activations, hidden_names, Activation{});
    if (request.layer_activations->in_order.empty()) {
      for (std::size_t i = 0; i < want.size(); ++i) {
        bool named = false;
        for (const auto& [name, a] : request.layer_activations->by_name) named = named || name == hidden_names[i];
        if (!named) want[i] = had[i];
      }
    }
    bool same = want.size() == had.size();
    for (std::size_t i = 0; same && i < want.size(); ++i) same = same_activation(want[i], had[i]);
    if (!same) refuse("activation", layer_activations_text(want), layer_activations_text(had));
  }
  if (request.names) {
    std::vector<std::string> had;
    for (const ModelNode& n : nodes) had.push_back(n.name);
    if (*request.names != had) refuse("names", join(*request.names), join(had));
  }
  if (request.classes && *request.classes != trained_classes(recorded)) {
    refuse("classes", join(*request.classes), join(trained_classes(recorded)));
  }
  if (request.frozen) {
    std::vector<std::string> want = *request.frozen, had = recorded.frozen;
    std::sort(want.begin(), want.end());
    std::sort(had.begin(), had.end());
    if (want != had) refuse("frozen", want.empty() ? "none" : join(want), had.empty() ? "none" : join(had));
  }

  // The optimizer: refused or overridden.
  OptimizerConfig o = recorded.optimizer.value_or(OptimizerConfig{});
  const bool known = recorded.optimizer.has_value();
  auto change = [&](const std::string& field, const std::string& requested, const std::string& had) {
    Contradiction c{field, requested, known ? had : "not recorded", true};
    (allow_optimizer_overrides || !known ? r.overrides : r.contradictions).push_back(c);
  };
  if (request.optimizer && (!known || *request.optimizer != o.kind)) {
    change("optimizer", optimizer_name(*request.optimizer), optimizer_name(o.kind));
    o.kind = *request.optimizer;
  }
  const std::pair<const char*, std::pair<const std::optional<float>*, float*>> floats[] = {
      {"learning_rate", {&request.learning_rate, &o.learning_rate}},
      {"momentum", {&request.momentum, &o.momentum}},
      {"clip_value", {&request.clip_value, &o.clip_value}},
      {"clip_norm", {&request.clip_norm, &o.clip_norm}},
  };
  for (const auto& [field, values] : floats) {
    const auto& [wanted, have] = values;
    if (*wanted && (!known || **wanted != *have)) {
      change(field, number(**wanted), number(*have));
      *have = **wanted;
    }
  }
  if (request.lr_schedule && (!known || !same_lr_schedule(*request.lr_schedule, o.schedule))) {
    change("lr_schedule", lr_schedule_text(*request.lr_schedule), lr_schedule_text(o.schedule));
    if (o.schedule.kind != request.lr_schedule->kind) r.model.plateau = PlateauState{};
    o.schedule = *request.lr_schedule;
  }
  r.model.optimizer = o;
  if (!request.regularization.empty()) {
    std::vector<NodeRegularizer> had;
    std::vector<std::string> names;
    for (const ModelNode& n : nodes) had.push_back(n.regularizer), names.push_back(n.name);
    const std::vector<NodeRegularizer> want =
        apply_regularization_request(had, names, request.regularization, [](const std::string& f) { return f; });
    for (const RegularizationChange& c : regularization_changes(had, want, names)) {
      (allow_optimizer_overrides ? r.overrides : r.contradictions).push_back({c.field, c.requested, c.recorded, true});
    }
    if (allow_optimizer_overrides) {
      for (std::size_t i = 0; i < want.size(); ++i) r.model.nodes[i].regularizer = want[i];
    }
  }
  return r;
}

}  // namespace graft
