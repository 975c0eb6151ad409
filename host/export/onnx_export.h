#pragma once
// The inference graph of a dense network as an ONNX model (opset 13, IR
// version 8), written with graft's own subset of onnx.proto
// (host/export/proto/onnx_subset.proto):
//   input  "input" float32 [N, features] (raw values, as the data file holds them)
//   Mul by the input scale (when it is not 1); Sub mean, Div stddev (when
//   the model standardizes); per dense layer a Gemm (kernel [fan_in,
//   fan_out], bias [fan_out]) and its activation (Relu, Elu, Selu,
//   LeakyRelu with alpha, Tanh, Sigmoid; none for the identity); per batch
//   norm node a BatchNormalization in inference mode (scale = gamma, or
//   ones without it; B = beta, or zeros; the moving mean and variance; its
//   epsilon), with the activation after it when the model normalises
//   before the activation; dropout nodes are left out (the identity in
//   inference); outputs "logits" [N, outputs] and "probabilities" =
//   Softmax(logits, axis 1).
// The output labels and class names go into metadata_props
// (graft_output_labels, graft_class_names, comma-separated).
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "host/model/model_description.h"
#include "host/restore/checkpoint_layers.h"

namespace graft {

struct OnnxExportInput {
  double scale = 1.0;
  std::vector<float> mean, stddev;
  std::vector<int> output_labels;        // empty: output i stands for label i
  std::vector<std::string> class_names;  // empty: none recorded
};

// The serialized ModelProto. Throws graft::Error naming the layer for an
// activation ONNX has no op for (none today) or a missing variable.
std::string onnx_model(const BundleReader& reader, const CheckpointModel& model, const OnnxExportInput& input);

}  // namespace graft
