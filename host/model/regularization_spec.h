#pragma once
// Regularization as a request (the CLI's --l1, --l2, --regularize-biases,
// --max-norm; TrainJob::model.regularization) and its resolution against a
// model's layer names into per-node regularizers (host/model/regularization.h).
//
//   --l2 0.001                      every kernel (hidden layers and the output layer)
//   --l2 hidden1=0.001,hidden2=0.0005   those kernels; the others none
//   --l2 0.001,outputs=0            every kernel but the output layer's
//   --max-norm 1.0                  every kernel, axis 1 (each input unit's row: the book's
//                                   tf.clip_by_norm(weights, 1.0, axes=1))
//   --max-norm 1.0,axis=0           axis 0 (each output unit's column: Keras's max_norm axis)
//   --max-norm hidden1=1,hidden2=1  the book's recipe: hidden layers only
//   --regularize-biases             the biases of the regularized layers get the kernels' L1/L2 scales
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "host/model/regularization.h"

namespace graft {

// A number for every layer, numbers for named layers, or both (named ones win).
struct ScaleSpec {
  std::optional<float> every;
  std::vector<std::pair<std::string, float>> by_name;
};

struct MaxNormSpec {
  ScaleSpec radius;
  int axis = 1;
};

struct RegularizationRequest {
  std::optional<ScaleSpec> l1, l2;
  std::optional<MaxNormSpec> max_norm;
  std::optional<bool> regularize_biases;
  bool empty() const { return !l1 && !l2 && !max_norm && !regularize_biases; }
};

// "0.001", "hidden1=0.001,hidden2=0.0005", "0.001,outputs=0". Throws
// graft::Error in one line: not a number, not finite, negative, a layer
// named twice, two bare numbers.
ScaleSpec parse_scale_spec(const std::string& text);
// The same items plus "axis=0" or "axis=1"; radii must be > 0 (0 for a
// named layer: none).
MaxNormSpec parse_max_norm_spec(const std::string& text);

// The regularizers of nodes `names` after `request`, starting from `base`
// (the recorded ones on resume; none, or empty, for a fresh model). Fields
// the request does not give keep base's. name(field) names a request field
// ("l2", "max_norm", "regularize_biases") in errors: a layer that does not
// exist, a value out of range, --regularize-biases without any L1/L2.
std::vector<NodeRegularizer> apply_regularization_request(
    const std::vector<NodeRegularizer>& base, const std::vector<std::string>& names,
    const RegularizationRequest& request, const std::function<std::string(const std::string&)>& name);

// One request field whose result differs from the recorded regularizers.
struct RegularizationChange {
  std::string field;  // "l1", "l2", "max_norm", "regularize_biases"
  std::string requested, recorded;
};
std::vector<RegularizationChange> regularization_changes(const std::vector<NodeRegularizer>& recorded,
                                                         const std::vector<NodeRegularizer>& wanted,
                                                         const std::vector<std::string>& names);

// "l2 0.001 (kernels), max-norm 1 axis 1 (hidden1,hidden2)": one line for
// reports and the model summary; "" when nothing is regularized.
std::string regularization_summary(const std::vector<NodeRegularizer>& nodes, const std::vector<std::string>& names);

// The flags' forms and how TF1's and Keras's scales relate (--help).
std::string regularization_help();

}  // namespace graft
