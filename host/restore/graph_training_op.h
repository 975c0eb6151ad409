#pragma once
// The optimizer updates a TensorFlow 1 graph (PREFIX.meta) holds: each
// ApplyAdam / ApplyMomentum / ApplyRMSProp / ApplyAdagrad node (and its
// Resource* form) names the variable it trains and the slot variables it
// reads (ApplyAdam(var, m, v, beta1_power, beta2_power, lr, beta1, beta2,
// epsilon, grad), as adam.py's _apply_dense builds it), which says which
// optimizer's slots -- which slot set (checkpoint/slot_sets.h) -- training
// uses for that variable, and which power scalars go with them.
//
// GraphDef lists nodes in creation order, so of two training ops (the
// book's exercise imports the first with the graph, then minimize()s a
// second optimizer), the second's updates come later: `order` keeps that.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace graft {

struct GraphSlotUpdate {
  std::string node;                  // "Adam2/update_outputs/kernel/ApplyAdam"
  std::string op;                    // "ApplyAdam", "ResourceApplyAdam", ...
  std::size_t order = 0;             // the node's index in the GraphDef (creation order)
  std::string variable;              // the variable it trains: "outputs/kernel"
  std::vector<std::string> slots;    // the slot variables it reads, in the op's order (ApplyAdam: m, v)
  std::vector<std::string> scalars;  // ApplyAdam: the beta1_power and beta2_power variables it reads
};

struct GraphTraining {
  std::string origin;                    // the .meta path
  std::vector<GraphSlotUpdate> updates;  // in graph order
};

// The updates of a serialized MetaGraphDef; `origin` names it in errors.
// Throws graft::Error when the bytes are not a MetaGraphDef or an update
// node reads a node the graph lacks. An update whose inputs do not lead to
// variables (through Identity, ReadVariableOp, Cast) is skipped.
GraphTraining graph_training_from_bytes(std::string_view bytes, const std::string& origin);

// The updates of the graph beside checkpoint `prefix`, or nullopt when it has
// no PREFIX.meta. Throws as read_meta_graph_file and graph_training_from_bytes.
std::optional<GraphTraining> read_graph_training(const std::string& prefix);

}  // namespace graft
