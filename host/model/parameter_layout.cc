#include "host/model/parameter_layout.h"

#include "host/backend.h"

namespace graft {
namespace {

int64_t align_up(int64_t v) {
  return (v + ParameterLayout::kAlignElems - 1) / ParameterLayout::kAlignElems * ParameterLayout::kAlignElems;
}

}  // namespace

const char* param_role_name(ParamRole role) {
  switch (role) {
    case ParamRole::kKernel: return "kernel";
    case ParamRole::kBias: return "bias";
    case ParamRole::kGamma: return "gamma";
    case ParamRole::kBeta: return "beta";
    case ParamRole::kMovingMean: return "moving_mean";
    case ParamRole::kMovingVariance: return "moving_variance";
  }
  return "?";
}

std::vector<ParamRole> node_roles(const DenseLayerShape& node) {
  switch (node.kind) {
    case NodeKind::kDense: return {ParamRole::kKernel, ParamRole::kBias};
    case NodeKind::kBatchNorm: {
      std::vector<ParamRole> roles;
      if (node.batch_norm.scale) roles.push_back(ParamRole::kGamma);
      if (node.batch_norm.center) roles.push_back(ParamRole::kBeta);
      roles.push_back(ParamRole::kMovingMean);
      roles.push_back(ParamRole::kMovingVariance);
      return roles;
    }
    case NodeKind::kDropout: return {};
  }
  return {};
}

bool ParameterLayout::operator==(const ParameterLayout& o) const {
  if (total != o.total || params.size() != o.params.size() || kernel_of != o.kernel_of || bias_of != o.bias_of ||
      role_of != o.role_of || kinds != o.kinds) {
    return false;
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    const ParamSlot &a = params[i], &b = o.params[i];
    if (a.node != b.node || a.role != b.role || a.offset != b.offset || a.count != b.count) return false;
  }
  return true;
}

std::string ParameterLayout::describe() const {
  std::string text;
  for (int i = 0; i < size(); ++i) {
    const ParamSlot& p = (*this)[i];
    text += std::to_string(i) + " node " + std::to_string(p.node) +
            " " + param_role_name(p.role) + " offset " + std::to_string(p.offset) +
            " count " + std::to_string(p.count) + "\n";
  }
  return text + "total " + std::to_string(total) + "\n";
}

ParameterLayout parameter_layout(const std::vector<DenseLayerShape>& layers) {
  ParameterLayout layout;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const int node = static_cast<int>(l);
    layout.kernel_of.push_back(-1);
    layout.bias_of.push_back(-1);
    std::array<int, kParamRoles> roles;
    roles.fill(-1);
    for (ParamRole role : node_roles(layers[l])) {
      ParamSlot p;
      p.node = node;
      p.role = role;
      p.offset = layout.total;
      p.count = role == ParamRole::kKernel ? layers[l].fan_in * layers[l].fan_out : layers[l].fan_out;
      layout.total = align_up(layout.total + p.count);
      roles[static_cast<std::size_t>(role)] = layout.size();
      if (role == ParamRole::kKernel) layout.kernel_of.back() = layout.size();
      if (role == ParamRole::kBias) layout.bias_of.back() = layout.size();
      layout.params.push_back(p);
    }
    layout.role_of.push_back(roles);
    layout.kinds.push_back(layers[l].kind);
  }
  return layout;
}

}  // namespace graft
