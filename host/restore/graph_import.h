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
// Anything else on the path (convolutions, batch normalization, dropout,
// recurrent loops, a second input, Relu6, Softplus, input scaling inside
// the graph) is refused with graft::Error naming the op and node: graft
// never evaluates an approximation of what the graph computes.
#include <optional>
#include <string>

#include "checkpoint/meta_graph.h"
#include "host/model/model_description.h"

namespace graft {

// The network of `graph`; `origin` (the .meta path) names it in errors and
// in the description's source ("TensorFlow graph ORIGIN").
ModelDescription model_from_graph(const tf::GraphDef& graph, const std::string& origin);

// The network the graph beside checkpoint `prefix` defines (PREFIX.meta), or
// nullopt when there is no such file. Throws as read_meta_graph and
// model_from_graph do.
std::optional<ModelDescription> model_from_meta_graph(const std::string& prefix);

}  // namespace graft
