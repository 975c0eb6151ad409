#pragma once
// The momentum of a batch normalization's moving averages, read from the
// update ops a TensorFlow 1 graph holds for them, for the batch-norm
// recognisers (graph_batch_norm*.cc). Internal to host/restore/.
//
// The forms (moving_averages.assign_moving_average, the Keras/tf.layers
// _assign_moving_average; their name scope is AssignMovingAvg):
//   AssignSub(var, (var - batch) * decay)            ref variables
//   AssignSubVariableOp(var, (var - batch) * decay)  resource variables
// with decay = 1 - momentum: a Const (tf.layers, tf.contrib), a tf.cond
// choosing it in training and 0 otherwise (fused tf.layers, TF 1.4-1.9), or
// Sub(1, momentum) where momentum is a Const or a tf.cond choosing momentum
// in training and 1.0 otherwise (fused Keras/tf.layers, TF 1.10+); the variable and
// its read may come through the cond's Switch (the update inside
// smart_cond), the delta through tf.where (Keras's zero-size-batch guard).
// TF 2.x Keras's fused path on FusedBatchNormV3 instead lets the op average
// (its exponential_avg_factor = 1 - momentum, the moving mean its input 3).
#include <optional>
#include <string>

#include "host/restore/graph_walk.h"

namespace graft::graph_walk {

struct MovingAverageMomentum {
  double momentum = 0;
  std::string source;  // "1 - its AssignMovingAvg decay", "1 - the exponential_avg_factor of NODE"
};

// The momentum the moving statistics are averaged with: read from the
// update of either (both, when both are updated, must agree: graft's batch
// norm has one momentum); nullopt when the graph updates neither, or
// updates them with different momenta.
std::optional<MovingAverageMomentum> moving_average_momentum(const Graph& g, const tf::NodeDef& moving_mean,
                                                             const tf::NodeDef& moving_variance);

}  // namespace graft::graph_walk
