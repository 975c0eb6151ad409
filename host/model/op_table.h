#pragma once
// The op table: per node kind, what the rest of graft needs to know about
// it without a class hierarchy — its TensorFlow variable leaves, which of
// them the optimizer updates and which the op updates itself (batch norm's
// moving statistics, when it joins), whether training and evaluation differ,
// whether it draws random numbers, and the ONNX op it exports as. Adding a
// node kind is adding a row; the static_assert keeps the table complete.
#include <array>
#include <cstddef>
#include <string_view>

#include "host/model/model_description.h"

namespace graft {

struct OpLeaf {
  std::string_view name;    // the variable's last name component: "kernel", "moving_mean"
  bool optimized;           // updated by the optimizer (has gradients and slots)
};

struct OpInfo {
  NodeKind kind;
  std::string_view name;                // as in the model description's JSON
  std::array<OpLeaf, 4> leaves;         // the first `leaf_count` are used
  std::size_t leaf_count;
  bool train_differs_from_eval;         // e.g. dropout, batch norm
  bool needs_random;                    // draws random numbers in training
  std::string_view onnx_op;             // what an exporter writes
};

// batch_norm: gamma and beta are optimized (gamma exists only with scale,
// beta only with center); the moving statistics are updated by the op itself
// in training (no gradients, no slots, never clipped) and saved like any
// variable. dropout has no variables; it differs in training (inverted
// dropout with a counter-based mask) from evaluation (the identity).
inline constexpr std::array<OpInfo, 3> kOpTable = {{
    {NodeKind::kDense, "dense", {{{"kernel", true}, {"bias", true}}}, 2, false, false, "Gemm"},
    {NodeKind::kBatchNorm,
     "batch_norm",
     {{{"gamma", true}, {"beta", true}, {"moving_mean", false}, {"moving_variance", false}}},
     4,
     true,
     false,
     "BatchNormalization"},
    {NodeKind::kDropout, "dropout", {}, 0, true, true, "Dropout"},
}};
static_assert(kOpTable.size() == static_cast<std::size_t>(NodeKind::kDropout) + 1,
              "every NodeKind needs its row in kOpTable, in enum order");

constexpr const OpInfo& op_info(NodeKind kind) { return kOpTable[static_cast<std::size_t>(kind)]; }
static_assert(kOpTable[static_cast<std::size_t>(NodeKind::kBatchNorm)].kind == NodeKind::kBatchNorm &&
                  kOpTable[static_cast<std::size_t>(NodeKind::kDropout)].kind == NodeKind::kDropout,
              "kOpTable rows are in enum order");

// Whether a leaf of the op table exists on this node: batch norm's gamma
// needs scale, its beta center; every other leaf always exists.
inline bool node_has_leaf(const ModelNode& node, std::string_view leaf) {
  if (node.kind == NodeKind::kBatchNorm) {
    if (leaf == "gamma") return node.batch_norm.scale;
    if (leaf == "beta") return node.batch_norm.center;
  }
  return true;
}

}  // namespace graft
