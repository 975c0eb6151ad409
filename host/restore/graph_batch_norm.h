#pragma once
// Recognising batch normalization in a TensorFlow 1 graph, for
// graph_import.cc: its variables, epsilon and momentum, read from the graph.
// batch_norm_at tries the fused form (graph_batch_norm_fused.cc), then the
// unfused one (graph_batch_norm.cc).
//
// Unfused (nn.batch_normalization: tf.layers.batch_normalization on dense
// inputs, Keras BatchNormalization(fused=False), tf.contrib.layers.batch_norm
// with fused=False): at inference
//   x * inv + (beta - moving_mean * inv),  inv = rsqrt(moving_variance + eps) * gamma
// (without scale inv has no gamma, without center the shift is
// -moving_mean * inv). With a training placeholder it sits in a tf.cond:
// either the whole formula (tf.layers in TF 1.4-1.12, as the fixture
// tf1/batchnorm shows: a Merge whose false branch is the inference formula,
// each operand read through the cond's Switch output 0 and a Reshape), or
// only its statistics (TF 1.13+ Keras-based tf.layers, tf.contrib's own
// implementation: mean = Merge(Switch(moving_mean):0, batch mean), and the
// formula after the cond). tf.contrib names its scope LAYER/BatchNorm and
// has no gamma by default (scale=False). Without a cond (training fixed to
// False) the inference formula stands alone.
//
// Fused (FusedBatchNorm, V2, V3: tf.layers/Keras fused=True, tf.contrib's
// default on 2-D inputs): x is reshaped to 4-D ([-1, 1, 1, C] for NHWC,
// [-1, C, 1, 1] for NCHW, by Reshape or two ExpandDims) and the output back
// to 2-D (Reshape or Squeeze); the op reads x, scale, offset, mean and
// variance, and its epsilon, is_training and data_format attrs. With a
// training placeholder two ops sit in a tf.cond: is_training true on the
// batch (true branch), false with the moving statistics (false branch, the
// one read). A missing gamma/beta is a Const of ones/zeros (scale/center
// off).
//
// A cond counts as inference only when its predicate is a placeholder that
// defaults to false (graph_walk.h false_by_default). Momentum comes from the
// moving averages' updates (graph_moving_average.h).
#include <optional>
#include <string>

#include "host/restore/graph_walk.h"

namespace graft::graph_walk {

struct BatchNormMatch {
  const tf::NodeDef* output = nullptr;  // the node it is known by: the cond's Merge, the inference Add, the fused op
  Tensor input;                         // x (2-D, below any reshape to 4-D)
  const tf::NodeDef* gamma = nullptr;   // variables; gamma/beta null without scale/center
  const tf::NodeDef* beta = nullptr;
  const tf::NodeDef* moving_mean = nullptr;
  const tf::NodeDef* moving_variance = nullptr;
  double epsilon = 0;              // the graph's constant (the fused op's attr)
  std::optional<double> momentum;  // from the moving averages' update, when the graph has one
  std::string momentum_source;     // how: "1 - its AssignMovingAvg decay", ...
  std::string cond;                // the cond's Merge name ("" without a cond)
  std::string fused_op;            // "FusedBatchNormV3 NHWC" for the fused form, "" unfused
};

// The batch normalization whose output is t, or nullopt when t is not one.
// Throws graft::Error naming the node for a batch normalization graft sees
// but cannot evaluate: statistics that are not variables, a cond that is not
// inference by default, a fused op that normalises with the batch's
// statistics at inference, a constant scale or offset other than 1 or 0.
std::optional<BatchNormMatch> batch_norm_at(const Graph& g, Tensor t);

// The fused form alone (graph_batch_norm_fused.cc).
std::optional<BatchNormMatch> fused_batch_norm_at(const Graph& g, Tensor t);

}  // namespace graft::graph_walk
