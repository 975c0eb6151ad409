#include "host/model/parameter_layout.h"

#include "host/backend.h"

namespace graft {
namespace {

int64_t align_up(int64_t v) {
  return (v + ParameterLayout::kAlignElems - 1) / ParameterLayout::kAlignElems * ParameterLayout::kAlignElems;
}

}  // namespace

bool ParameterLayout::operator==(const ParameterLayout& o) const {
  if (total != o.total || params.size() != o.params.size() || kernel_of != o.kernel_of || bias_of != o.bias_of) {
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
            (p.role == ParamRole::kKernel ? " kernel" : " bias") + " offset " + std::to_string(p.offset) +
            " count " + std::to_string(p.count) + "\n";
  }
  return text + "total " + std::to_string(total) + "\n";
}

ParameterLayout parameter_layout(const std::vector<DenseLayerShape>& layers) {
  ParameterLayout layout;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const int node = static_cast<int>(l);
    for (ParamRole role : {ParamRole::kKernel, ParamRole::kBias}) {
      ParamSlot p;
      p.node = node;
      p.role = role;
      p.offset = layout.total;
      p.count = role == ParamRole::kKernel ? layers[l].fan_in * layers[l].fan_out : layers[l].fan_out;
      layout.total = align_up(layout.total + p.count);
      (role == ParamRole::kKernel ? layout.kernel_of : layout.bias_of).push_back(layout.size());
      layout.params.push_back(p);
    }
  }
  return layout;
}

}  // namespace graft
