#pragma once
// Activation functions with TensorFlow's exact definitions:
//   relu(x)       = max(x, 0)
//   elu(x)        = x > 0 ? x : exp(x) - 1                      (tf.nn.elu)
//   selu(x)       = scale * (x > 0 ? x : alpha * (exp(x) - 1))  (tf.nn.selu,
//                   alpha = 1.6732632423543772, scale = 1.0507009873554805)
//   leaky_relu(x) = x > 0 ? x : alpha * x, alpha default 0.2    (tf.nn.leaky_relu)
//   tanh, sigmoid = 1 / (1 + exp(-x)), identity.
#include <optional>
#include <string>

namespace graft {

enum class ActivationKind { kIdentity, kRelu, kElu, kSelu, kLeakyRelu, kTanh, kSigmoid };

struct Activation {
  ActivationKind kind = ActivationKind::kRelu;
  float alpha = 0.2f;  // leaky_relu only
};

constexpr float kSeluAlpha = 1.6732632423543772f;
constexpr float kSeluScale = 1.0507009873554805f;

// "relu", "elu", "selu", "leaky_relu", "tanh", "sigmoid", "identity".
std::string activation_name(const Activation& a);
// Parses the names above, plus "leaky_relu:0.1" for an explicit alpha and
// "linear"/"none" for identity; nullopt when unknown.
std::optional<Activation> parse_activation(const std::string& text);

}  // namespace graft
