// The step plan without a backend: its printed form for the reference
// network and for a frozen-prefix transfer run, and its rules.
#include "host/step_plan.h"

#include <gtest/gtest.h>

#include "tests/common/error_of.h"
#include "tests/common/expect_contains.h"

namespace graft {
namespace {

const std::vector<std::string> kReference = {"hidden1", "hidden2", "hidden3", "hidden4", "hidden5", "outputs"};

TEST(StepPlan, ReferenceNetworkPrintedForm) {
  const StepPlan plan = plan_step(std::vector<bool>(12, true), 0, false);
  EXPECT_EQ(plan.describe(kReference),
            "step plan:\n"
            "  forward: hidden1 hidden2 hidden3 hidden4 hidden5 outputs\n"
            "  loss: sparse softmax cross-entropy\n"
            "  backward: outputs(dW,db,dX) hidden5(dW,db,dX) hidden4(dW,db,dX) hidden3(dW,db,dX) hidden2(dW,db,dX) "
            "hidden1(dW,db)\n"
            "  exchange: none (one device)\n"
            "  update: each trainable parameter right after its gradient\n");
}

// The transfer run of the README: hidden1-3 frozen, hidden4 and outputs new.
TEST(StepPlan, FrozenPrefixTransferRun) {
  const std::vector<std::string> names = {"hidden1", "hidden2", "hidden3", "hidden4", "outputs"};
  std::vector<bool> trainable(10, true);
  for (int i = 0; i < 6; ++i) trainable[static_cast<std::size_t>(i)] = false;
  // With the frozen-layer cache: the step starts at hidden4.
  const StepPlan cached = plan_step(trainable, 3, false);
  EXPECT_EQ(cached.describe(names),
            "step plan:\n"
            "  forward: hidden4 outputs (from hidden4: the nodes below are not run)\n"
            "  loss: sparse softmax cross-entropy\n"
            "  backward: outputs(dW,db,dX) hidden4(dW,db)\n"
            "  exchange: none (one device)\n"
            "  update: each trainable parameter right after its gradient\n");
  // Without it: the frozen nodes run forward, but no gradient reaches them.
  const StepPlan uncached = plan_step(trainable, 0, true);
  EXPECT_EQ(uncached.lowest_trainable, 3);
  EXPECT_CONTAINS(uncached.describe(names), "  forward: hidden1 hidden2 hidden3 hidden4 outputs\n");
  EXPECT_CONTAINS(uncached.describe(names), "  backward: outputs(dW,db,dX) hidden4(dW,db)\n");
  EXPECT_CONTAINS(uncached.describe(names), "  update: after every gradient, scaled by the global norm clip\n");
  EXPECT_FALSE(uncached.fused_updates);
}

TEST(StepPlan, FrozenKernelKeepsItsInputGradientForTheNodesBelow) {
  // hidden2's kernel is frozen but hidden1 trains: hidden2 still passes dX down.
  std::vector<bool> trainable = {true, true, false, true, true, true};
  const StepPlan plan = plan_step(trainable, 0, false);
  ASSERT_EQ(plan.backward.size(), 3u);
  EXPECT_FALSE(plan.backward[1].kernel_grad);
  EXPECT_TRUE(plan.backward[1].bias_grad);
  EXPECT_TRUE(plan.backward[1].input_grad);
  EXPECT_FALSE(plan.backward[2].input_grad);
}

TEST(StepPlan, NothingTrainableAndBadArguments) {
  const StepPlan none = plan_step(std::vector<bool>(4, false), 0, false);
  EXPECT_FALSE(none.trains_anything());
  EXPECT_CONTAINS(none.describe({"a", "b"}), "backward: none (nothing is trainable)");
  EXPECT_CONTAINS(test::error_of([] { plan_step(std::vector<bool>(4, true), 2, false); }), "first node 2 of 2");
  EXPECT_CONTAINS(test::error_of([] { plan_step(std::vector<bool>(3, true), 0, false); }), "3 trainable flags");
}

}  // namespace
}  // namespace graft
