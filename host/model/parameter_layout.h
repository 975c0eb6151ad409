#pragma once
// Where every parameter lives in memory: the one place that computes
// offsets. Parameters, gradients and each optimizer slot are one flat float
// buffer per kind, all in this layout (parameter i at offset(i) in each), so
// an update is a list of (offset, count) ranges and a backend never derives
// an offset, a node or a role from a parameter's number itself.
//
// Every tensor starts on a kAlignElems boundary (256 bytes: cuBLAS and the
// 16-byte vector paths like aligned operands; the CPU's cache lines too).
// Order: node by node; a dense node's kernel, then its bias (the dense
// stack's order, unchanged); a batch-norm node's gamma (with scale), beta
// (with center), moving_mean, moving_variance; dropout has none. The moving
// statistics live in every flat buffer like the others (so offsets stay one
// function) but are not optimized: the op updates them, they get no
// gradient and no slot work.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "host/model/model_description.h"

namespace graft {

struct DenseLayerShape;

enum class ParamRole { kKernel, kBias, kGamma, kBeta, kMovingMean, kMovingVariance };
inline constexpr int kParamRoles = 6;

// "kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance": the op
// table's leaf names.
const char* param_role_name(ParamRole role);
// Optimized by the optimizer (false: updated by its op, the moving statistics).
inline bool role_optimized(ParamRole role) {
  return role != ParamRole::kMovingMean && role != ParamRole::kMovingVariance;
}

struct ParamSlot {
  int node = 0;                       // the node (layer) the parameter belongs to
  ParamRole role = ParamRole::kKernel;
  int64_t offset = 0;                 // first element in each flat buffer
  int64_t count = 0;                  // elements
};

struct ParameterLayout {
  static constexpr int64_t kAlignElems = 64;

  std::vector<ParamSlot> params;      // by backend parameter index
  std::vector<int> kernel_of, bias_of;  // node -> parameter index (-1: none)
  std::vector<std::array<int, kParamRoles>> role_of;  // node -> role -> parameter index (-1: none)
  std::vector<NodeKind> kinds;        // node -> its kind
  int64_t total = 0;                  // elements of each flat buffer (padding included)

  int size() const { return static_cast<int>(params.size()); }
  int num_nodes() const { return static_cast<int>(kernel_of.size()); }
  int kernel(int node) const { return kernel_of[static_cast<std::size_t>(node)]; }
  int bias(int node) const { return bias_of[static_cast<std::size_t>(node)]; }
  NodeKind kind(int node) const { return kinds[static_cast<std::size_t>(node)]; }
  // The parameter of `node` with `role`, or -1.
  int find(int node, ParamRole role) const {
    return role_of[static_cast<std::size_t>(node)][static_cast<std::size_t>(role)];
  }
  const ParamSlot& operator[](int index) const { return params[static_cast<std::size_t>(index)]; }

  bool operator==(const ParameterLayout& o) const;
  bool operator!=(const ParameterLayout& o) const { return !(*this == o); }
  // One line per parameter: "0 node 0 kernel offset 0 count 31360".
  std::string describe() const;
};

// The layout of a network's nodes (validated by the caller: positive shapes).
ParameterLayout parameter_layout(const std::vector<DenseLayerShape>& layers);
// The roles a node has, in layout order.
std::vector<ParamRole> node_roles(const DenseLayerShape& node);

}  // namespace graft
