#pragma once
// The model: a stack of dense layers with TensorFlow's names and layout, and
// the one table of its parameters (name, shape, trainable, initializer,
// optimizer slots) that drives allocation, initialisation, restore, save and
// the tests.
//
// Layer NAME owns the variables NAME/kernel [fan_in, fan_out] and NAME/bias
// [fan_out]; y = act(x·W + b). The last layer's activation is the identity
// (its outputs are the logits).
#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/tensor_info.h"
#include "host/model/activation.h"
#include "host/backend.h"
#include "host/model/initializers.h"
#include "host/model/optimizer_config.h"
#include "host/model/parameter_layout.h"

namespace graft {

// One node. The name says "layer" because the dense stack came first; a
// batch_norm or dropout node keeps the width (fan_in == fan_out) and owns
// NAME/gamma, NAME/beta, NAME/moving_mean, NAME/moving_variance (batch norm)
// or nothing (dropout).
struct LayerSpec {
  std::string name;  // variable scope: "hidden1", "outputs", "dnn/hidden1", "hidden1/batch_normalization"
  int64_t fan_in = 0;
  int64_t fan_out = 0;
  Activation activation;
  Initializer kernel_initializer = Initializer::kGlorotUniform;
  Initializer bias_initializer = Initializer::kZeros;
  VarianceScaling variance_scaling;  // the kernel's, when kernel_initializer is variance_scaling
  bool kernel_trainable = true;  // false = frozen: no update, no slots
  bool bias_trainable = true;
  NodeKind kind = NodeKind::kDense;
  BatchNormAttrs batch_norm;          // kBatchNorm
  float rate = 0.0f;                  // kDropout
  bool gamma_trainable = true;        // kBatchNorm: false = frozen
  bool beta_trainable = true;
  // kBatchNorm: the op updates the moving statistics in training. false (the
  // statistics frozen) runs the node in inference mode during training.
  bool statistics_trainable = true;

  // The trainable flag of the leaf with `role` (moving statistics: statistics_trainable).
  bool leaf_trainable(ParamRole role) const;
  void set_leaf_trainable(ParamRole role, bool trainable);
  DenseLayerShape shape() const;
};

struct ModelSpec {
  std::vector<LayerSpec> layers;

  int64_t inputs() const;
  int64_t outputs() const;
  // Throws graft::Error when empty, when a shape is not positive, when
  // consecutive layers disagree (fan_out of one != fan_in of the next) or
  // when two layers share a name.
  void validate() const;
  std::vector<DenseLayerShape> backend_shapes() const;
  // "784-300-100-10 (relu)"
  std::string describe() const;
};

// hidden.size() hidden layers named hidden1..hiddenN with `activation`, then
// a layer named "outputs" with the identity: tf.layers.dense as in the book.
ModelSpec make_mlp_spec(int64_t inputs, const std::vector<int64_t>& hidden, int64_t outputs,
                        const Activation& activation,
                        Initializer kernel_initializer = Initializer::kGlorotUniform);

// The checkpoint names of a layer's variables.
std::string kernel_name(const LayerSpec& layer);  // NAME/kernel
std::string bias_name(const LayerSpec& layer);    // NAME/bias
std::string leaf_name(const LayerSpec& layer, ParamRole role);  // NAME/<role>: NAME/gamma, NAME/moving_mean

// Adds batch norm after every hidden dense layer of a dense stack
// (make_mlp_spec's order): NAME/batch_normalization, placed before the
// activation (the dense layer becomes linear, the batch norm applies the
// activation) or after it. And dropout after every hidden layer (after its
// batch norm): NAME/dropout with rates[l] for hidden layer l (a rate of 0
// adds no node); one rate stands for every hidden layer.
void add_batch_norm(ModelSpec& spec, bool before_activation, const BatchNormAttrs& attrs);
void add_dropout(ModelSpec& spec, const std::vector<float>& rates);

struct ParameterSpec {
  std::string name;  // TF variable name, e.g. "hidden1/kernel"
  Shape shape;       // [fan_in, fan_out] or [fan_out]
  int layer = 0;                        // its node, from the layout
  ParamRole role = ParamRole::kKernel;  // from the layout
  int index = 0;                        // Backend parameter index, from the layout
  int64_t offset = 0;                   // in the flat parameter/gradient/slot buffers (parameter_layout)
  bool trainable = true;
  Initializer initializer = Initializer::kGlorotUniform;
  VarianceScaling variance_scaling;    // its settings, for variance_scaling
  int64_t fan_in = 0, fan_out = 0;     // of the layer (what the initializer needs)
  std::vector<std::string> slot_names;  // VAR/suffix in slot order; empty when frozen or not optimized
  // Updated by the optimizer (false: by its op, batch norm's moving
  // statistics, whose `trainable` then says whether the op updates them).
  bool optimized = true;

  int64_t elements() const;
};

// One entry per variable in backend order (hidden1/kernel, hidden1/bias, ...);
// index, node, role and offset come from parameter_layout(spec.backend_shapes()),
// the layout both backends allocate.
std::vector<ParameterSpec> parameter_table(const ModelSpec& spec, OptimizerKind optimizer);
// The entry named `name`, or null.
const ParameterSpec* find_parameter(const std::vector<ParameterSpec>& table, const std::string& name);

}  // namespace graft
