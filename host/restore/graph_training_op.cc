#include "host/restore/graph_training_op.h"

#include <map>

#include "checkpoint/error.h"
#include "checkpoint/meta_graph.h"
#include "host/restore/graph_walk.h"
#include "meta_graph.pb.h"

namespace graft {
namespace {

// Where an update op's slots and (Adam's) power scalars sit among its inputs.
struct UpdateOp {
  std::vector<int> slots;
  std::vector<int> scalars;
};

const std::map<std::string, UpdateOp>& update_ops() {
  static const std::map<std::string, UpdateOp> kOps = {
      {"ApplyAdam", {{1, 2}, {3, 4}}},         {"ResourceApplyAdam", {{1, 2}, {3, 4}}},
      {"ApplyMomentum", {{1}, {}}},            {"ResourceApplyMomentum", {{1}, {}}},
      {"ApplyKerasMomentum", {{1}, {}}},       {"ResourceApplyKerasMomentum", {{1}, {}}},
      {"ApplyRMSProp", {{1, 2}, {}}},          {"ResourceApplyRMSProp", {{1, 2}, {}}},
      {"ApplyAdagrad", {{1}, {}}},             {"ResourceApplyAdagrad", {{1}, {}}},
      {"ApplyAdagradV2", {{1}, {}}},           {"ResourceApplyAdagradV2", {{1}, {}}},
  };
  return kOps;
}

// The variable input i of n reads (a ref, a resource handle, or for the
// power scalars a /read Identity, a ReadVariableOp, a Cast), or "".
std::string variable_read(const graph_walk::Graph& g, const tf::NodeDef& n, int i) {
  if (i >= g.data_inputs(n)) return "";
  graph_walk::Tensor t = g.input(n, i);
  for (std::size_t steps = 0; steps <= g.size(); ++steps) {
    const std::string& op = t.node->op();
    if (op == "VariableV2" || op == "Variable" || op == "VarHandleOp") return t.node->name();
    if ((op != "Identity" && op != "ReadVariableOp" && op != "Cast") || g.data_inputs(*t.node) != 1) return "";
    t = g.input(*t.node, 0);
  }
  g.fail("a cycle of Identity nodes reaches " + t.node->name());
}

}  // namespace

GraphTraining graph_training_from_bytes(std::string_view bytes, const std::string& origin) {
  if (bytes.size() > kMaxMetaGraphBytes) {
    throw Error(origin + ": the graph is " + std::to_string(bytes.size()) + " bytes, more than graft reads (" +
                std::to_string(kMaxMetaGraphBytes) + ")");
  }
  tf::MetaGraphDef meta;
  if (!meta.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    throw Error(origin + ": not a TensorFlow MetaGraphDef (truncated or corrupt)");
  }
  const tf::GraphDef& def = meta.graph_def();
  const graph_walk::Graph g(def, origin);
  GraphTraining out;
  out.origin = origin;
  for (int k = 0; k < def.node_size(); ++k) {
    const tf::NodeDef& n = def.node(k);
    const auto op = update_ops().find(n.op());
    if (op == update_ops().end()) continue;
    GraphSlotUpdate u;
    u.node = n.name();
    u.op = n.op();
    u.order = static_cast<std::size_t>(k);
    u.variable = variable_read(g, n, 0);
    bool complete = !u.variable.empty();
    for (int i : op->second.slots) {
      u.slots.push_back(variable_read(g, n, i));
      complete = complete && !u.slots.back().empty();
    }
    for (int i : op->second.scalars) u.scalars.push_back(variable_read(g, n, i));
    if (complete) out.updates.push_back(std::move(u));
  }
  return out;
}

std::optional<GraphTraining> read_graph_training(const std::string& prefix) {
  const std::string path = meta_graph_path(prefix);
  const std::optional<std::string> bytes = read_meta_graph_file(path);
  if (!bytes) return std::nullopt;
  return graph_training_from_bytes(*bytes, path);
}

}  // namespace graft
