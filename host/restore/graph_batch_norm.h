#pragma once
// Recognising tf.layers.batch_normalization (TF1, non-fused: the form it
// takes on dense inputs) in a TensorFlow graph, for graph_import.cc.
//
// The pattern, as the fixture tf1/batchnorm shows it (tf.layers with
// training=tf.placeholder_with_default(False)): a tf.cond whose Merge
// forwards, at inference (the placeholder's default), the branch
//   x * inv + (beta - moving_mean * inv),  inv = rsqrt(moving_variance + eps) * gamma
// (nn.batch_normalization; without scale inv has no gamma, without center
// the shift is -moving_mean * inv), every operand read through the cond's
// Switch output 0 and a Reshape; the training branch uses the batch's
// moments instead. The moving averages are AssignSub(var, (var - batch) *
// decay) with decay = 1 - momentum. A graph without the cond (training
// fixed to False) has the inference branch alone.
#include <optional>
#include <string>

#include "host/restore/graph_walk.h"

namespace graft::graph_walk {

struct BatchNormMatch {
  const tf::NodeDef* output = nullptr;  // the Merge (or the inference Add)
  Tensor input;                         // x
  const tf::NodeDef* gamma = nullptr;   // variables; gamma/beta null without scale/center
  const tf::NodeDef* beta = nullptr;
  const tf::NodeDef* moving_mean = nullptr;
  const tf::NodeDef* moving_variance = nullptr;
  double epsilon = 0;                   // the graph's constant
  std::optional<double> momentum;       // 1 - the AssignMovingAvg decay constant, when the graph has it
  std::string cond;                     // the cond's Merge name ("" without a cond)
};

// The batch normalization whose output is t, or nullopt when t is not one.
std::optional<BatchNormMatch> batch_norm_at(const Graph& g, Tensor t);

}  // namespace graft::graph_walk
