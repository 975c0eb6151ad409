#pragma once
// What a TensorFlow 1 graph does to its input between the placeholder and
// the first dense layer, as the model description's input transform
// (host/model/model_description.h ModelInput: x = raw * scale, then
// (x - mean[i]) / stddev[i]), for graph_import.cc. Internal to host/restore/.
//
// Recognised, in any order and combination (c a float Const: a scalar, or
// one value per feature, shape [F] or [1, F]):
//   X / c, X * c, c * X             RealDiv, Div, Mul: scaling (X / 255., X * (1 / 255.))
//   X - c, X + c, c + X             Sub, Add, AddV2, BiasAdd: shifting
//   (X - mean) / stddev             tf.subtract / tf.divide with per-feature Consts: standardization
//   tf.cast(X, tf.float32)          Cast from uint8 (or another integer or float type) to float32/64
//   tf.reshape(X, [-1, F])          Reshape to the features, row-major (X of [None, 28, 28])
// Leading scalings before any shift become `scale`; the rest become mean and
// stddev per feature. The placeholder then takes the raw values (a file's
// bytes or numbers as they are) and the transform makes what the network
// reads, as the graph did.
//
// Refused with graft::Error naming the node: a nonlinear op on the input
// (Sqrt, Maximum, Square, c / X, ...), a sign flip (c - X, a negative
// divisor per feature: stddev must be positive), division by zero, a second
// input, a Const whose shape does not fit the features. A transform that
// reads a variable (its values are in the checkpoint, not the graph) or a
// layer graft does not evaluate (a convolution) is not one: nullopt, and the
// importer's refusal names what it meets.
#include <cstdint>
#include <optional>
#include <string>

#include "host/model/model_description.h"
#include "host/restore/graph_walk.h"

namespace graft::graph_walk {

struct InputTransformMatch {
  const tf::NodeDef* placeholder = nullptr;
  ModelInput input;              // features, scale, mean, stddev (read_from is the caller's)
  std::string expression;        // "X / 255", "(cast(X, float32) - mean) / stddev" (Const names)
  std::string placeholder_type;  // "float32", "uint8"
  bool flattened = false;        // a Reshape to [-1, features] (the placeholder may have more dimensions)
  // Whether the graph says how raw values are scaled: it does arithmetic on
  // them or casts them from an integer type. A reshape alone (or a cast
  // between float types) does not: `input` is then the identity and says nothing.
  bool scales = false;
};

// The transform whose output is t (the first dense layer's input), with
// `features` inputs; nullopt when t is not computed from a placeholder and
// constants alone (a hidden layer's output, the placeholder itself).
std::optional<InputTransformMatch> input_transform_at(const Graph& g, Tensor t, int64_t features);

}  // namespace graft::graph_walk
