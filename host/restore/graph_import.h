#pragma once
// The dense network a TensorFlow 1 graph (PREFIX.meta) defines, as a model
// description: walking back from the logits the loss reads
// (SparseSoftmaxCrossEntropyWithLogits, else InTopK or ArgMax) through each
// dense layer (MatMul reading a kernel variable, then BiasAdd/Add reading a
// bias variable) and the activation between layers, to the input
// placeholder. Layer order, names (the kernel's variable scope), variables
// and activations come from the graph itself, never from variable names.
//
// Activations recognised: Relu, Elu, Selu, LeakyRelu (its alpha attr),
// Tanh, Sigmoid, none (identity), and the hand-written forms
// Maximum(Mul(alpha, z), z) (leaky ReLU) and
// scale * Select(z >= 0, z, alpha * Elu(z)) (SELU, TF's constants only).
// Batch normalization before or after an activation: tf.layers/Keras
// unfused and fused (FusedBatchNorm, V2, V3) and tf.contrib.layers.batch_norm,
// with or without their training cond (graph_batch_norm.h); dropout whose
// cond is off by default. Scaling, shifting, standardization and a cast of
// the input before the first dense layer become the description's input
// transform (graph_input_transform.h). Anything else on the path
// (convolutions, dropout that can be on, recurrent loops, a second input,
// Relu6, Softplus, a nonlinear op on the input) is refused with graft::Error
// naming the op and node: graft never evaluates an approximation of what the
// graph computes.
#include <optional>
#include <string>
#include <string_view>

#include "host/model/model_description.h"

namespace graft {

// The network of a serialized MetaGraphDef; `origin` (the .meta path) names
// it in errors and in the description's source ("TensorFlow graph ORIGIN").
// Bytes that are not a MetaGraphDef are an error naming `origin`.
ModelDescription model_from_meta_graph_bytes(std::string_view bytes, const std::string& origin);

// The network the graph beside checkpoint `prefix` defines (PREFIX.meta), or
// nullopt when there is no such file. Throws as read_meta_graph_file
// (checkpoint/meta_graph.h) and model_from_meta_graph_bytes do.
std::optional<ModelDescription> model_from_meta_graph(const std::string& prefix);

}  // namespace graft
