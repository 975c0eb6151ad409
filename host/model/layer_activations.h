#pragma once
// A different activation per hidden layer: in layer order ("elu,elu,relu",
// one per hidden layer) or by layer name ("hidden1=selu,hidden3=tanh"; the
// layers not named keep the default). One activation alone ("elu") is every
// hidden layer's, as before. The logits layer is always the identity.
#include <string>
#include <utility>
#include <vector>

#include "host/model/activation.h"

namespace graft {

struct LayerActivations {
  std::vector<Activation> in_order;                        // one per hidden layer
  std::vector<std::pair<std::string, Activation>> by_name;  // layer name -> activation
  bool empty() const { return in_order.empty() && by_name.empty(); }
};

// "elu,elu,relu" or "hidden1=elu,hidden2=relu" (leaky_relu:ALPHA allowed in
// both). Throws graft::Error naming the unknown activation, an entry that
// mixes both forms, or a layer named twice.
LayerActivations parse_layer_activations(const std::string& text);

// One activation per hidden layer (hidden_names, bottom to top): in_order
// must have exactly one per layer; by_name must name hidden layers only
// (the others get `fallback`). Throws graft::Error naming the count or the
// unknown layer (and the hidden layers there are).
std::vector<Activation> resolve_layer_activations(const LayerActivations& a,
                                                  const std::vector<std::string>& hidden_names,
                                                  const Activation& fallback);

// "relu" when every activation is the same, else "elu,elu,relu" (leaky_relu
// with its alpha).
std::string layer_activations_text(const std::vector<Activation>& activations);

}  // namespace graft
