#pragma once
// tf.cond glue as the batch-norm recognisers (graph_batch_norm*.cc) meet it
// on an operand's way to its source: which Switch outputs it read, and
// whether every predicate was a placeholder that defaults to false, so the
// branch read is the one TensorFlow runs at inference. Internal to
// host/restore/.
#include <fmt/format.h>

#include <string>

#include "host/restore/graph_walk.h"

namespace graft::graph_walk {

struct CondBranch {
  bool inference = true;   // every Switch read was output 0 (the false branch)
  bool by_default = true;  // and every predicate a placeholder that defaults to false
  int switches = 0;
  const tf::NodeDef* predicate = nullptr;  // the first predicate that is not, for the error

  // Notes a read of output `output` of Switch `sw`.
  void read_switch(const Graph& g, const tf::NodeDef& sw, int output) {
    ++switches;
    if (output != 0) inference = false;
    if (!false_by_default(g, g.input(sw, 1))) {
      if (by_default) predicate = g.through_identity(g.input(sw, 1)).node;
      by_default = false;
    }
  }

  void add(const CondBranch& b) {
    inference = inference && b.inference;
    if (!b.by_default && by_default) predicate = b.predicate;
    by_default = by_default && b.by_default;
    switches += b.switches;
  }
};

// The error for a batch normalization (known by `where`) whose inference
// branch hangs on a predicate that does not default to false.
[[noreturn]] inline void refuse_cond_predicate(const Graph& g, const std::string& where, const CondBranch& b) {
  const tf::NodeDef* p = b.predicate;
  g.fail(
      fmt::format("the batch normalization at {} runs in a tf.cond on {} ({}), which is not a placeholder that "
                  "defaults to false, so the graph does not say it evaluates with the moving statistics "
                  "(tf.placeholder_with_default(False, ()) would); graft cannot evaluate it",
                  where, p ? p->name() : "?", p ? p->op() : "?"));
}

}  // namespace graft::graph_walk
