#pragma once
// Where every parameter lives in memory: the one place that computes
// offsets. Parameters, gradients and each optimizer slot are one flat float
// buffer per kind, all in this layout (parameter i at offset(i) in each), so
// an update is a list of (offset, count) ranges and a backend never derives
// an offset, a node or a role from a parameter's number itself.
//
// Every tensor starts on a kAlignElems boundary (256 bytes: cuBLAS and the
// 16-byte vector paths like aligned operands; the CPU's cache lines too).
// Today's order is the dense stack's: node l's kernel, then its bias.
#include <cstdint>
#include <string>
#include <vector>

namespace graft {

struct DenseLayerShape;

enum class ParamRole { kKernel, kBias };

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
  int64_t total = 0;                  // elements of each flat buffer (padding included)

  int size() const { return static_cast<int>(params.size()); }
  int num_nodes() const { return static_cast<int>(kernel_of.size()); }
  int kernel(int node) const { return kernel_of[static_cast<std::size_t>(node)]; }
  int bias(int node) const { return bias_of[static_cast<std::size_t>(node)]; }
  const ParamSlot& operator[](int index) const { return params[static_cast<std::size_t>(index)]; }

  bool operator==(const ParameterLayout& o) const;
  bool operator!=(const ParameterLayout& o) const { return !(*this == o); }
  // One line per parameter: "0 node 0 kernel offset 0 count 31360".
  std::string describe() const;
};

// The layout of a dense stack (validated by the caller: positive shapes).
ParameterLayout parameter_layout(const std::vector<DenseLayerShape>& layers);

}  // namespace graft
