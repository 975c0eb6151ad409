// Which slot set a restore or resume takes (host/restore/slot_set_choice.h):
// the graph's training op (the one built last, per variable its own), a set
// asked for by name, a graft record, or the first by name said as assumed;
// the power scalars that go with it; and the refusal of a set the
// checkpoint lacks, naming those it has.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "checkpoint/error.h"
#include "host/restore/slot_set_choice.h"
#include "tests/common/error_of.h"
#include "tests/common/expect_contains.h"
#include "tests/common/two_optimizers.h"

namespace graft {
namespace {

// The keys write_two_optimizers writes.
std::vector<std::string> two_optimizer_keys(const test::TwoOptimizers& o) {
  std::vector<std::string> keys;
  for (const std::string& v : o.variables()) {
    keys.insert(keys.end(), {v, v + "/Adam", v + "/Adam_1"});
    if (o.second_trains(v)) keys.insert(keys.end(), {v + "/" + o.second_m(), v + "/" + o.second_v()});
  }
  for (int i : {1, 2}) keys.insert(keys.end(), {o.first_power(i), o.second_power(i)});
  return keys;
}

SlotSetQuery query_for(const test::TwoOptimizers& o, bool graph, const std::string& requested = "") {
  SlotSetQuery q;
  q.prefix = "two.ckpt";
  const std::vector<std::string> keys = two_optimizer_keys(o);
  q.sets = usable_slot_sets(find_slot_sets(keys), OptimizerKind::kAdam);
  q.powers = find_power_scalars(keys);
  q.variables = o.variables();
  if (graph) {
    q.graph = graph_training_from_bytes(test::two_optimizers_graph(o).serialized(), "two.ckpt.meta");
  } else {
    q.no_graph = "no graph two.ckpt.meta says which one training reads";
  }
  q.requested = requested;
  return q;
}

TEST(SlotSetChoice, TheGraphsTrainingOpPerVariable) {
  const SlotSetChoice c = choose_slot_sets(query_for({}, true));
  EXPECT_EQ(c.names, (std::vector<std::string>{"Adam", "Adam2"}));
  EXPECT_TRUE(c.several());
  EXPECT_EQ(c.set, "Adam2");  // built last
  EXPECT_EQ(c.variable_set.at("outputs/kernel"), "Adam2");
  EXPECT_EQ(c.variable_set.at("hidden1/kernel"), "Adam");  // Adam2 does not train it
  EXPECT_EQ(c.powers.beta1, "beta1_power_1");
  EXPECT_EQ(c.powers.beta2, "beta2_power_1");
  EXPECT_CONTAINS(c.describe(), "slot set Adam2 (the graph's training op reads it; an earlier training op in the "
                                "graph reads Adam); hidden1/kernel, hidden1/bias take slot set Adam (the graph "
                                "trains them with it alone)");
  EXPECT_CONTAINS(c.describe_with_powers(),
                  "power scalars beta1_power_1, beta2_power_1 (slot set Adam2's: its ApplyAdam nodes read them)");
}

TEST(SlotSetChoice, WithoutAGraphTheFirstByNameSaidAsAssumed) {
  const SlotSetChoice c = choose_slot_sets(query_for({}, false));
  EXPECT_EQ(c.set, "Adam");
  EXPECT_EQ(c.variable_set.at("outputs/kernel"), "Adam");
  EXPECT_CONTAINS(c.describe(), "slot set Adam (assumed: first of Adam, Adam2 by name; no graph two.ckpt.meta");
  EXPECT_EQ(c.powers.beta1, "beta1_power");
  EXPECT_CONTAINS(c.powers_why, "assumed: slot set Adam is the first Adam slot set by name");
}

TEST(SlotSetChoice, AskingForTheOther) {
  // Without the graph: Adam2 where it has slots, Adam (the only one) elsewhere.
  const SlotSetChoice c = choose_slot_sets(query_for({}, false, "Adam2"));
  EXPECT_EQ(c.set, "Adam2");
  EXPECT_EQ(c.why, "as asked");
  EXPECT_EQ(c.variable_set.at("outputs/bias"), "Adam2");
  EXPECT_EQ(c.variable_set.at("hidden1/bias"), "Adam");
  EXPECT_CONTAINS(c.describe(), "hidden1/kernel, hidden1/bias take slot set Adam (the only one with their slots)");
  EXPECT_EQ(c.powers.beta1, "beta1_power_1");  // assumed: the second pair for the second set
  // With the graph, the first optimizer for everything: its own power scalars.
  const SlotSetChoice first = choose_slot_sets(query_for({}, true, "Adam"));
  EXPECT_EQ(first.variable_set.at("outputs/kernel"), "Adam");
  EXPECT_TRUE(first.variable_why.empty());
  EXPECT_EQ(first.powers.beta1, "beta1_power");
  EXPECT_CONTAINS(first.powers_why, "its ApplyAdam nodes read them");
}

TEST(SlotSetChoice, ADefaultNamedSecondOptimizer) {
  test::TwoOptimizers o;
  o.second = "Adam";
  o.first_scope = "train";  // train/beta1_power, then the second's beta1_power at the top level
  const SlotSetChoice c = choose_slot_sets(query_for(o, true));
  EXPECT_EQ(c.names, (std::vector<std::string>{"Adam", "Adam_2"}));
  EXPECT_EQ(c.set, "Adam_2");
  EXPECT_EQ(c.powers.beta1, "beta1_power");  // the graph says so; by name it would be the first pair
  const SlotSetChoice by_name = choose_slot_sets(query_for(o, false, "Adam_2"));
  EXPECT_EQ(by_name.powers.beta1, "train/beta1_power");  // assumed, and wrong: why the graph matters
  EXPECT_CONTAINS(by_name.powers_why, "assumed");
}

TEST(SlotSetChoice, ARecordedChoiceContinues) {
  SlotSetQuery q = query_for({}, false);
  q.record = RecordedSlotSet{"the model recorded in two.ckpt", "Adam2",
                             {{"outputs/kernel", {"outputs/kernel/Adam2", "outputs/kernel/Adam2_1"}},
                              {"hidden1/kernel", {"hidden1/kernel/Adam", "hidden1/kernel/Adam_1"}}},
                             {{"beta1_power", "beta1_power_1"}}};
  const SlotSetChoice c = choose_slot_sets(q);
  EXPECT_EQ(c.set, "Adam2");
  EXPECT_EQ(c.why, "the model recorded in two.ckpt trains with it");
  EXPECT_EQ(c.variable_set.at("outputs/kernel"), "Adam2");
  EXPECT_EQ(c.variable_set.at("hidden1/kernel"), "Adam");
  EXPECT_EQ(c.powers.beta1, "beta1_power_1");
  EXPECT_CONTAINS(c.powers_why, "as the model recorded in two.ckpt continues them");
}

TEST(SlotSetChoice, OneSetIsNotAChoice) {
  SlotSetQuery q = query_for({}, false);
  q.variables = {"hidden1/kernel", "hidden1/bias"};  // only Adam holds their slots
  const SlotSetChoice c = choose_slot_sets(q);
  EXPECT_FALSE(c.several());
  EXPECT_EQ(c.set, "Adam");
}

TEST(SlotSetChoice, AnUnknownSetIsRefusedNamingTheSets) {
  const std::vector<SlotSet> sets = find_slot_sets(two_optimizer_keys({}));
  EXPECT_NO_THROW(check_slot_set_name(sets, OptimizerKind::kAdam, "Adam2", "--slot-set", "two.ckpt"));
  EXPECT_NO_THROW(check_slot_set_name(sets, OptimizerKind::kAdam, "", "--slot-set", "two.ckpt"));
  EXPECT_EQ(test::error_of([&] { check_slot_set_name(sets, OptimizerKind::kAdam, "Adam3", "--slot-set", "two.ckpt"); }),
            "--slot-set 'Adam3': two.ckpt holds no adam slot set Adam3; its slot sets are Adam, Adam2");
  const std::vector<SlotSet> mixed = find_slot_sets(std::vector<std::string>{"w/Adam", "w/Adam_1", "w/Momentum"});
  EXPECT_EQ(test::error_of([&] { check_slot_set_name(mixed, OptimizerKind::kAdam, "Momentum", "S", "m.ckpt"); }),
            "S 'Momentum': m.ckpt holds no adam slot set Momentum; its slot set is Adam (Momentum holds Momentum "
            "slots, which adam does not use)");
  EXPECT_CONTAINS(test::error_of([&] { check_slot_set_name(sets, OptimizerKind::kSgd, "Adam", "S", "two.ckpt"); }),
                  "it holds no slots sgd uses");
  EXPECT_EQ(other_optimizer_slot("Adam2", "restores"),
            "optimizer slot of another optimizer (Adam2; --slot-set Adam2 restores it)");
}

TEST(SlotSetChoice, UsableSetsAndPositions) {
  const std::vector<SlotSet> sets = find_slot_sets(std::vector<std::string>{"w/Adam", "w/Adam_1", "w/Momentum"});
  ASSERT_EQ(usable_slot_sets(sets, OptimizerKind::kAdam).size(), 1u);
  EXPECT_EQ(usable_slot_sets(sets, OptimizerKind::kNesterov).front().name, "Momentum");
  EXPECT_TRUE(usable_slot_sets(sets, OptimizerKind::kSgd).empty());
  EXPECT_EQ(slot_position(OptimizerKind::kAdam, {"k", "v", -1}), 1);  // Keras by meaning
  EXPECT_EQ(slot_position(OptimizerKind::kAdam, {"k", "Adam_1", 1}), 1);
  EXPECT_EQ(slot_position(OptimizerKind::kMomentum, {"k", "Adam_1", 1}), -1);
}

}  // namespace
}  // namespace graft
