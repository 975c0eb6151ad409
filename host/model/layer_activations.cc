#include "host/model/layer_activations.h"

#include <fmt/format.h>

#include <set>

#include "checkpoint/error.h"

namespace graft {
namespace {

Activation parse_one(const std::string& text) {
  const auto a = parse_activation(text);
  if (!a) {
    throw Error("unknown activation '" + text + "' (relu, elu, selu, leaky_relu[:ALPHA], tanh, sigmoid, identity)");
  }
  return *a;
}

std::string text_of(const Activation& a) {
  return a.kind == ActivationKind::kLeakyRelu ? fmt::format("leaky_relu:{}", a.alpha) : activation_name(a);
}

}  // namespace

LayerActivations parse_layer_activations(const std::string& text) {
  LayerActivations out;
  std::set<std::string> named;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const std::size_t eq = item.find('=');
    if (eq == std::string::npos) {
      out.in_order.push_back(parse_one(item));
    } else {
      const std::string layer = item.substr(0, eq);
      if (layer.empty()) throw Error("activation '" + item + "' names no layer (LAYER=ACTIVATION)");
      if (!named.insert(layer).second) throw Error("layer " + layer + " is given two activations");
      out.by_name.emplace_back(layer, parse_one(item.substr(eq + 1)));
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (!out.in_order.empty() && !out.by_name.empty()) {
    throw Error("activations '" + text + "' mix the two forms: give one per hidden layer (elu,elu,relu) or "
                "LAYER=ACTIVATION pairs (hidden1=elu,hidden2=relu)");
  }
  return out;
}

std::vector<Activation> resolve_layer_activations(const LayerActivations& a,
                                                  const std::vector<std::string>& hidden_names,
                                                  const Activation& fallback) {
  std::vector<Activation> out(hidden_names.size(), fallback);
  if (!a.in_order.empty()) {
    if (a.in_order.size() == 1) return std::vector<Activation>(hidden_names.size(), a.in_order[0]);
    if (a.in_order.size() != hidden_names.size()) {
      throw Error(fmt::format("{} activations for {} hidden layers: give one per hidden layer, or one for all",
                              a.in_order.size(), hidden_names.size()));
    }
    return a.in_order;
  }
  for (const auto& [name, activation] : a.by_name) {
    bool found = false;
    for (std::size_t i = 0; i < hidden_names.size(); ++i) {
      if (hidden_names[i] == name) {
        out[i] = activation;
        found = true;
      }
    }
    if (!found) {
      std::string names;
      for (const std::string& n : hidden_names) names += (names.empty() ? "" : ", ") + n;
      throw Error("no hidden layer named " + name + " to give an activation (the hidden layers: " +
                  (names.empty() ? std::string("none") : names) + ")");
    }
  }
  return out;
}

std::string layer_activations_text(const std::vector<Activation>& activations) {
  if (activations.empty()) return "";
  bool same = true;
  for (const Activation& a : activations) same = same && text_of(a) == text_of(activations[0]);
  if (same) return text_of(activations[0]);
  std::string out;
  for (const Activation& a : activations) out += (out.empty() ? "" : ",") + text_of(a);
  return out;
}

}  // namespace graft
