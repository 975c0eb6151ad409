#include "host/model/activation.h"

#include <cmath>
#include <cstdlib>

namespace graft {

std::string activation_name(const Activation& a) {
  switch (a.kind) {
    case ActivationKind::kIdentity: return "identity";
    case ActivationKind::kRelu: return "relu";
    case ActivationKind::kElu: return "elu";
    case ActivationKind::kSelu: return "selu";
    case ActivationKind::kLeakyRelu: return "leaky_relu";
    case ActivationKind::kTanh: return "tanh";
    case ActivationKind::kSigmoid: return "sigmoid";
  }
  return "unknown";
}

std::optional<Activation> parse_activation(const std::string& text) {
  Activation a;
  if (text == "relu") {
    a.kind = ActivationKind::kRelu;
  } else if (text == "elu") {
    a.kind = ActivationKind::kElu;
  } else if (text == "selu") {
    a.kind = ActivationKind::kSelu;
  } else if (text == "tanh") {
    a.kind = ActivationKind::kTanh;
  } else if (text == "sigmoid") {
    a.kind = ActivationKind::kSigmoid;
  } else if (text == "identity" || text == "linear" || text == "none") {
    a.kind = ActivationKind::kIdentity;
  } else if (text == "leaky_relu") {
    a.kind = ActivationKind::kLeakyRelu;
  } else if (text.rfind("leaky_relu:", 0) == 0) {
    a.kind = ActivationKind::kLeakyRelu;
    const std::string number = text.substr(11);
    char* end = nullptr;
    const float alpha = std::strtof(number.c_str(), &end);
    // The backward pass reads the sign of the input from the output, which
    // only works for alpha >= 0 (every practical leaky ReLU).
    if (number.empty() || *end != '\0' || !std::isfinite(alpha) || alpha < 0.0f) return std::nullopt;
    a.alpha = alpha;
  } else {
    return std::nullopt;
  }
  return a;
}

}  // namespace graft
