#pragma once
// Regularization as data: what each node of a model description records
// (NodeRegularizer: TF1's kernel_regularizer/bias_regularizer of
// tf.layers.dense with tf.contrib.layers.l1_regularizer/l2_regularizer, and
// the book's max-norm, tf.clip_by_norm of the kernel after every update),
// and what a backend gets per parameter (ParamRegularizer). The scalar rules
// are host/math/regularization_math.h; the flags' form and their resolution
// against a model's layer names are host/model/regularization_spec.h.
//
// The penalty of every regularized parameter, frozen ones included (TF's
// tf.losses.get_regularization_loss() holds every layer's term), is added to
// the training loss of each batch; its gradient goes only to the parameters
// the step trains. Max-norm touches only kernels the step trains.
#include <string>
#include <vector>

namespace graft {

// host/model/parameter_layout.h; not included: the model description
// includes this header, and the layout's header includes the description's.
struct ParameterLayout;

struct NodeRegularizer {
  float kernel_l1 = 0.0f;  // scale of l1_regularizer on the kernel (0: none)
  float kernel_l2 = 0.0f;  // scale of l2_regularizer on the kernel (0: none)
  float bias_l1 = 0.0f;
  float bias_l2 = 0.0f;
  float max_norm = 0.0f;   // clip_norm of tf.clip_by_norm (0: none)
  int max_norm_axis = 1;   // 1: each row of the [in, out] kernel (one input unit); 0: each column (one output unit)

  bool penalizes() const { return kernel_l1 > 0 || kernel_l2 > 0 || bias_l1 > 0 || bias_l2 > 0; }
  bool any() const { return penalizes() || max_norm > 0; }
  bool operator==(const NodeRegularizer& o) const;
  bool operator!=(const NodeRegularizer& o) const { return !(*this == o); }
};

// What a backend applies to one parameter.
struct ParamRegularizer {
  float l1 = 0.0f;
  float l2 = 0.0f;
  float max_norm = 0.0f;  // kernels only
  int max_norm_axis = 1;

  bool penalizes() const { return l1 > 0 || l2 > 0; }
  bool any() const { return penalizes() || max_norm > 0; }
};

// Throws graft::Error naming `where` and the field ("nodes[1].regularizer:
// kernel_l2 must be a finite number >= 0, not -1"): scales finite and >= 0,
// max_norm finite and > 0 when set, the axis 0 or 1.
void validate_node_regularizer(const NodeRegularizer& r, const std::string& where);

// Per backend parameter (layout order) from per node (nodes[i] is layout
// node i); nodes beyond the layout's are an error, missing ones get none.
std::vector<ParamRegularizer> param_regularizers(const ParameterLayout& layout,
                                                 const std::vector<NodeRegularizer>& nodes);
bool any_regularizer(const std::vector<ParamRegularizer>& params);

// The form stored in the model description:
// "kernel_l2=0.001,bias_l2=0.001,max_norm=1,max_norm_axis=1" (only the set
// fields; floats as the shortest text that reads back as the same value).
std::string node_regularizer_text(const NodeRegularizer& r);
NodeRegularizer parse_node_regularizer(const std::string& text);  // throws graft::Error

}  // namespace graft
