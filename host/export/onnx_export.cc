#include "host/export/onnx_export.h"

#include <fmt/format.h>

#include "checkpoint/error.h"
#include "graft/version.h"
#include "onnx_subset.pb.h"

namespace graft {
namespace {

namespace ox = graft::onnx;

ox::TensorProto float_tensor(const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& v) {
  ox::TensorProto t;
  t.set_name(name);
  t.set_data_type(ox::TensorProto::FLOAT);
  for (int64_t d : dims) t.add_dims(d);
  t.set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));  // little-endian
  return t;
}

void add_value_info(google::protobuf::RepeatedPtrField<ox::ValueInfoProto>* list, const std::string& name,
                    int64_t cols) {
  ox::ValueInfoProto* v = list->Add();
  v->set_name(name);
  ox::TypeProto::Tensor* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(ox::TensorProto::FLOAT);
  t->mutable_shape()->add_dim()->set_dim_param("N");
  t->mutable_shape()->add_dim()->set_dim_value(cols);
}

ox::NodeProto* add_node(ox::GraphProto& g, const std::string& op, const std::vector<std::string>& inputs,
                        const std::string& output) {
  ox::NodeProto* n = g.add_node();
  n->set_op_type(op);
  n->set_name(output);
  for (const std::string& i : inputs) n->add_input(i);
  n->add_output(output);
  return n;
}

void add_float_attribute(ox::NodeProto* n, const std::string& name, float value) {
  ox::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(ox::AttributeProto::FLOAT);
  a->set_f(value);
}

// The ONNX op of an activation (empty for the identity) and its attributes.
std::string activation_node(ox::GraphProto& g, const Activation& act, const std::string& in, const std::string& out) {
  switch (act.kind) {
    case ActivationKind::kIdentity:
      return in;
    case ActivationKind::kRelu:
      add_node(g, "Relu", {in}, out);
      return out;
    case ActivationKind::kElu:
      add_float_attribute(add_node(g, "Elu", {in}, out), "alpha", 1.0f);
      return out;
    case ActivationKind::kSelu: {
      ox::NodeProto* n = add_node(g, "Selu", {in}, out);
      add_float_attribute(n, "alpha", kSeluAlpha);
      add_float_attribute(n, "gamma", kSeluScale);
      return out;
    }
    case ActivationKind::kLeakyRelu:
      add_float_attribute(add_node(g, "LeakyRelu", {in}, out), "alpha", act.alpha);
      return out;
    case ActivationKind::kTanh:
      add_node(g, "Tanh", {in}, out);
      return out;
    case ActivationKind::kSigmoid:
      add_node(g, "Sigmoid", {in}, out);
      return out;
  }
  throw Error("activation " + activation_name(act) + " has no ONNX op");
}

// ONNX BatchNormalization in inference mode (opset 13: version 9) on [N, C]
// input, C = dim 1 = the features: Y = (X - mean) / sqrt(var + epsilon) *
// scale + B, as graft's batch norm with the moving statistics. Without gamma
// (scale off) the scale is ones, without beta (center off) B is zeros.
std::string batch_norm_node(ox::GraphProto& g, const BundleReader& reader, const CheckpointDenseLayer& c,
                            const LayerSpec& spec, const std::string& in) {
  const int64_t units = spec.fan_out;
  auto leaf = [&](const char* name, float fallback) {
    const auto key = c.leaf_keys.find(name);
    if (key == c.leaf_keys.end()) {
      const std::string synthetic = c.name + "/" + name + (fallback == 1.0f ? "_ones" : "_zeros");
      *g.add_initializer() = float_tensor(synthetic, {units}, std::vector<float>(static_cast<std::size_t>(units), fallback));
      return synthetic;
    }
    const BundleEntry* e = reader.find(key->second);
    if (!e) throw Error(reader.prefix() + ": batch normalization " + c.name + " is not in this checkpoint");
    *g.add_initializer() = float_tensor(key->second, {units}, reader.read_float(*e));
    return key->second;
  };
  for (const char* stat : {"moving_mean", "moving_variance"}) {
    if (!c.leaf_keys.count(stat)) {
      throw Error(reader.prefix() + ": batch normalization " + c.name + " has no " + stat);
    }
  }
  const std::string scale = leaf("gamma", 1.0f), bias = leaf("beta", 0.0f);
  const std::string mean = leaf("moving_mean", 0.0f), variance = leaf("moving_variance", 1.0f);
  const std::string out = c.name + "/normalized";
  add_float_attribute(add_node(g, "BatchNormalization", {in, scale, bias, mean, variance}, out), "epsilon",
                      spec.batch_norm.epsilon);
  return out;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i];
  return out;
}

}  // namespace

std::string onnx_model(const BundleReader& reader, const CheckpointModel& model, const OnnxExportInput& input) {
  ox::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("graft");
  m.set_producer_version(GRAFT_VERSION);
  ox::OperatorSetIdProto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  ox::GraphProto& g = *m.mutable_graph();
  g.set_name("graft_dense");
  const int64_t features = model.spec.inputs();
  add_value_info(g.mutable_input(), "input", features);

  std::string x = "input";
  if (input.scale != 1.0) {
    *g.add_initializer() = float_tensor("input_scale", {1}, {static_cast<float>(input.scale)});
    add_node(g, "Mul", {x, "input_scale"}, "scaled");
    x = "scaled";
  }
  if (!input.mean.empty()) {
    *g.add_initializer() = float_tensor("input_mean", {features}, input.mean);
    *g.add_initializer() = float_tensor("input_stddev", {features}, input.stddev);
    add_node(g, "Sub", {x, "input_mean"}, "centered");
    add_node(g, "Div", {"centered", "input_stddev"}, "standardized");
    x = "standardized";
  }
  for (std::size_t l = 0; l < model.layers.size(); ++l) {
    const CheckpointDenseLayer& c = model.layers[l];
    const LayerSpec& spec = model.spec.layers[l];
    if (spec.kind == NodeKind::kDropout) continue;  // inference: the identity
    if (spec.kind == NodeKind::kBatchNorm) {
      x = activation_node(g, spec.activation, batch_norm_node(g, reader, c, spec, x), c.name + "/out");
      continue;
    }
    const BundleEntry* kernel = reader.find(c.kernel_key);
    const BundleEntry* bias = reader.find(c.bias_key);
    if (!kernel || !bias) throw Error(reader.prefix() + ": layer " + c.name + " is not in this checkpoint");
    *g.add_initializer() = float_tensor(c.kernel_key, {spec.fan_in, spec.fan_out}, reader.read_float(*kernel));
    *g.add_initializer() = float_tensor(c.bias_key, {spec.fan_out}, reader.read_float(*bias));
    const std::string linear = c.name + "/linear";
    add_node(g, "Gemm", {x, c.kernel_key, c.bias_key}, linear);
    x = activation_node(g, spec.activation, linear, c.name + "/out");
  }
  // The last node's output is the logits (a trailing dropout adds no node).
  ox::NodeProto& last = *g.mutable_node(g.node_size() - 1);
  if (last.output(0) != x) throw Error("ONNX export: the graph does not end in the network's output");
  last.set_output(0, "logits");
  last.set_name("logits");
  ox::NodeProto* softmax = add_node(g, "Softmax", {"logits"}, "probabilities");
  ox::AttributeProto* axis = softmax->add_attribute();
  axis->set_name("axis");
  axis->set_type(ox::AttributeProto::INT);
  axis->set_i(1);
  add_value_info(g.mutable_output(), "probabilities", model.spec.outputs());
  add_value_info(g.mutable_output(), "logits", model.spec.outputs());

  std::vector<std::string> labels;
  for (int64_t i = 0; i < model.spec.outputs(); ++i) {
    labels.push_back(std::to_string(input.output_labels.empty() ? static_cast<int>(i)
                                                                : input.output_labels[static_cast<std::size_t>(i)]));
  }
  ox::StringStringEntryProto* e = m.add_metadata_props();
  e->set_key("graft_output_labels");
  e->set_value(joined(labels));
  if (!input.class_names.empty()) {
    e = m.add_metadata_props();
    e->set_key("graft_class_names");
    e->set_value(joined(input.class_names));
  }
  std::string bytes;
  if (!m.SerializeToString(&bytes)) throw Error("cannot serialize the ONNX model");
  return bytes;
}

}  // namespace graft
