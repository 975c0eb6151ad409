// The optimizer updates a TF1 graph holds (host/restore/graph_training_op.h):
// the book's two training ops built node by node (ApplyAdam reading the
// slots and power scalars through /read), the resource-variable forms, and
// the real Adam fixture's graph.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "checkpoint/error.h"
#include "host/restore/graph_training_op.h"
#include "tests/common/error_of.h"
#include "tests/common/expect_contains.h"
#include "tests/common/fixtures.h"
#include "tests/common/graph_builder.h"
#include "tests/common/two_optimizers.h"

namespace graft {
namespace {

using test::GraphBuilder;

const GraphSlotUpdate* update_of(const GraphTraining& t, const std::string& node) {
  for (const GraphSlotUpdate& u : t.updates) {
    if (u.node == node) return &u;
  }
  return nullptr;
}

TEST(GraphTrainingOp, TheBooksTwoTrainingOpsInCreationOrder) {
  test::TwoOptimizers o;
  const GraphTraining t = graph_training_from_bytes(test::two_optimizers_graph(o).serialized(), "g.meta");
  EXPECT_EQ(t.origin, "g.meta");
  ASSERT_EQ(t.updates.size(), 6u);  // Adam: 4 variables; Adam2: outputs' 2
  const GraphSlotUpdate* first = update_of(t, "Adam/update_outputs/kernel/ApplyAdam");
  const GraphSlotUpdate* second = update_of(t, "Adam2/update_outputs/kernel/ApplyAdam");
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(first->op, "ApplyAdam");
  EXPECT_EQ(first->variable, "outputs/kernel");
  EXPECT_EQ(first->slots, (std::vector<std::string>{"outputs/kernel/Adam", "outputs/kernel/Adam_1"}));
  EXPECT_EQ(first->scalars, (std::vector<std::string>{"beta1_power", "beta2_power"}));
  EXPECT_EQ(second->slots, (std::vector<std::string>{"outputs/kernel/Adam2", "outputs/kernel/Adam2_1"}));
  EXPECT_EQ(second->scalars, (std::vector<std::string>{"beta1_power_1", "beta2_power_1"}));
  EXPECT_LT(first->order, second->order);
  EXPECT_EQ(update_of(t, "Adam2/update_hidden1/kernel/ApplyAdam"), nullptr);  // Adam2 trains outputs only
}

TEST(GraphTrainingOp, ResourceVariablesAndMomentum) {
  GraphBuilder g;
  for (const char* v : {"w", "w/Adam", "w/Adam_1", "beta1_power", "beta2_power", "u", "u/Momentum"}) {
    g.node(v, "VarHandleOp");
  }
  g.node("Adam/ReadVariableOp", "ReadVariableOp", {"beta1_power"});
  g.node("Adam/Cast", "Cast", {"Adam/ReadVariableOp"});
  g.node("Adam/ReadVariableOp_1", "ReadVariableOp", {"beta2_power"});
  g.constant("lr", 0.1f);
  g.node("Adam/update_w/ResourceApplyAdam", "ResourceApplyAdam",
         {"w", "w/Adam", "w/Adam_1", "Adam/Cast", "Adam/ReadVariableOp_1", "lr", "lr", "lr", "lr", "lr", "^w"});
  g.node("Momentum/update_u/ResourceApplyMomentum", "ResourceApplyMomentum", {"u", "u/Momentum", "lr", "lr", "lr"});
  // An update whose slot is not a variable: skipped.
  g.node("odd/ApplyMomentum", "ApplyMomentum", {"u", "lr", "lr", "lr", "lr"});
  const GraphTraining t = graph_training_from_bytes(g.serialized(), "r.meta");
  ASSERT_EQ(t.updates.size(), 2u);
  EXPECT_EQ(t.updates[0].slots, (std::vector<std::string>{"w/Adam", "w/Adam_1"}));
  EXPECT_EQ(t.updates[0].scalars, (std::vector<std::string>{"beta1_power", "beta2_power"}));
  EXPECT_EQ(t.updates[1].variable, "u");
  EXPECT_EQ(t.updates[1].slots, (std::vector<std::string>{"u/Momentum"}));
  EXPECT_TRUE(t.updates[1].scalars.empty());
}

TEST(GraphTrainingOp, ErrorsNameTheGraph) {
  EXPECT_CONTAINS(test::error_of([] { graph_training_from_bytes("not a graph", "bad.meta"); }),
                  "bad.meta: not a TensorFlow MetaGraphDef");
  GraphBuilder g;
  g.node("Adam/update_w/ApplyAdam", "ApplyAdam", {"w", "w/Adam", "w/Adam_1"});
  EXPECT_CONTAINS(test::error_of([&] { graph_training_from_bytes(g.serialized(), "lacking.meta"); }),
                  "lacking.meta: Adam/update_w/ApplyAdam reads w, which the graph lacks");
  test::TempDir dir;
  EXPECT_FALSE(read_graph_training((dir / "none.ckpt").string()).has_value());
}

TEST(GraphTrainingOp, TheAdamFixturesGraph) {
  GRAFT_REQUIRE_FIXTURE(meta, "tf1/adam_digits_0_to_4/ch11-exercise_model_0_to_4.ckpt.meta");
  const std::string prefix = meta.string().substr(0, meta.string().size() - 5);
  const std::optional<GraphTraining> t = read_graph_training(prefix);
  ASSERT_TRUE(t.has_value());
  ASSERT_EQ(t->updates.size(), 12u);  // hidden1..5 and outputs, kernel and bias
  for (const GraphSlotUpdate& u : t->updates) {
    EXPECT_EQ(u.op, "ApplyAdam");
    EXPECT_EQ(u.node, "train/Adam/update_" + u.variable + "/ApplyAdam");
    EXPECT_EQ(u.slots, (std::vector<std::string>{u.variable + "/Adam", u.variable + "/Adam_1"}));
    EXPECT_EQ(u.scalars, (std::vector<std::string>{"train/beta1_power", "train/beta2_power"}));
  }
}

}  // namespace
}  // namespace graft
