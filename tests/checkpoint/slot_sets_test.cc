// Slot sets by name (checkpoint/slot_sets.h): TF1's VAR/Adam, VAR/Adam_1 of
// one optimizer, VAR/Adam2, VAR/Adam2_1 of one named Adam2, VAR/Adam_2,
// VAR/Adam_3 of a second default-named one; one-slot optimizers; TF2 keys;
// Adam's power scalars with their partners; and the real Adam fixture, which
// holds exactly one set.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/slot_sets.h"
#include "tests/checkpoint/test_util.h"

namespace graft {
namespace {

std::vector<std::string> names_of(const std::vector<SlotSet>& sets) {
  std::vector<std::string> out;
  for (const SlotSet& s : sets) out.push_back(s.name);
  return out;
}

std::vector<std::string> keys_of(const SlotSet& s, const std::string& variable) {
  std::vector<std::string> out;
  for (const SlotKey& k : s.slots.at(variable)) out.push_back(k.key + "@" + std::to_string(k.position));
  return out;
}

TEST(SlotSets, TheBooksAdamAndAdam2) {
  const std::vector<SlotSet> sets = find_slot_sets(std::vector<std::string>{
      "hidden1/kernel", "hidden1/kernel/Adam", "hidden1/kernel/Adam_1", "hidden4/kernel", "hidden4/kernel/Adam2_1",
      "hidden4/kernel/Adam2", "beta1_power", "beta1_power_1", "global_step"});
  ASSERT_EQ(names_of(sets), (std::vector<std::string>{"Adam", "Adam2"}));
  EXPECT_EQ(sets[0].kind, "Adam");
  EXPECT_EQ(sets[1].kind, "Adam");
  EXPECT_EQ(keys_of(sets[0], "hidden1/kernel"),
            (std::vector<std::string>{"hidden1/kernel/Adam@0", "hidden1/kernel/Adam_1@1"}));
  EXPECT_FALSE(sets[0].holds("hidden4/kernel"));
  // m before v whatever the key order.
  EXPECT_EQ(keys_of(sets[1], "hidden4/kernel"),
            (std::vector<std::string>{"hidden4/kernel/Adam2@0", "hidden4/kernel/Adam2_1@1"}));
  const FoundSlot found = find_slot(sets, "hidden4/kernel/Adam2_1");
  ASSERT_NE(found.set, nullptr);
  EXPECT_EQ(found.set->name, "Adam2");
  EXPECT_EQ(found.slot->position, 1);
  EXPECT_EQ(find_slot(sets, "hidden1/kernel").set, nullptr);
}

TEST(SlotSets, ASecondDefaultNamedAdamCountsOn) {
  // variable_scope's default names: the second "Adam" continues at _2.
  const std::vector<SlotSet> sets = find_slot_sets(std::vector<std::string>{
      "outputs/kernel/Adam", "outputs/kernel/Adam_1", "outputs/kernel/Adam_2", "outputs/kernel/Adam_3",
      "hidden1/kernel/Adam", "hidden1/kernel/Adam_1"});
  ASSERT_EQ(names_of(sets), (std::vector<std::string>{"Adam", "Adam_2"}));
  EXPECT_EQ(keys_of(sets[1], "outputs/kernel"),
            (std::vector<std::string>{"outputs/kernel/Adam_2@0", "outputs/kernel/Adam_3@1"}));
  EXPECT_TRUE(sets[0].holds("hidden1/kernel"));
  EXPECT_FALSE(sets[1].holds("hidden1/kernel"));
}

TEST(SlotSets, OneSlotOptimizersMakeOneSetPerNumber) {
  const std::vector<SlotSet> sets = find_slot_sets(std::vector<std::string>{
      "dense/kernel/Momentum", "dense/kernel/Momentum_1", "dense/kernel/RMSProp", "dense/kernel/RMSProp_1"});
  ASSERT_EQ(names_of(sets), (std::vector<std::string>{"Momentum", "Momentum_1", "RMSProp"}));
  EXPECT_EQ(sets[1].kind, "Momentum");
  EXPECT_EQ(keys_of(sets[1], "dense/kernel"), (std::vector<std::string>{"dense/kernel/Momentum_1@0"}));
  EXPECT_EQ(keys_of(sets[2], "dense/kernel"),
            (std::vector<std::string>{"dense/kernel/RMSProp@0", "dense/kernel/RMSProp_1@1"}));
  EXPECT_EQ(slots_per_variable("Adam"), 2);
  EXPECT_EQ(slots_per_variable("Momentum"), 1);
  EXPECT_EQ(slots_per_variable("Unknown"), 1);
}

TEST(SlotSets, Tf2SlotsFormOneSetPerOptimizerPath) {
  const std::string k = "layer_with_weights-0/kernel";
  const std::vector<SlotSet> sets = find_slot_sets(std::vector<std::string>{
      k + "/.ATTRIBUTES/VARIABLE_VALUE", k + "/.OPTIMIZER_SLOT/optimizer/v/.ATTRIBUTES/VARIABLE_VALUE",
      k + "/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE", "optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE"});
  ASSERT_EQ(names_of(sets), (std::vector<std::string>{"optimizer"}));
  EXPECT_EQ(sets[0].kind, "");
  ASSERT_TRUE(sets[0].holds(k));
  ASSERT_EQ(sets[0].slots.at(k).size(), 2u);
  EXPECT_EQ(sets[0].slots.at(k)[0].slot, "m");  // by key: m before v
  EXPECT_EQ(sets[0].slots.at(k)[0].position, -1);
}

TEST(SlotSets, PowerScalarsPairUpByScopeAndSuffix) {
  const std::vector<PowerScalars> pairs = find_power_scalars(std::vector<std::string>{
      "train/beta1_power", "train/beta2_power", "beta1_power_1", "beta2_power_1", "beta1_power", "other/beta1_power_3",
      "hidden1/kernel"});
  ASSERT_EQ(pairs.size(), 4u);
  EXPECT_EQ(pairs[0].beta1, "beta1_power");
  EXPECT_EQ(pairs[0].beta2, "");  // no partner
  EXPECT_EQ(pairs[1].beta1, "train/beta1_power");
  EXPECT_EQ(pairs[1].beta2, "train/beta2_power");
  EXPECT_EQ(pairs[2].beta1, "beta1_power_1");
  EXPECT_EQ(pairs[2].beta2, "beta2_power_1");
  EXPECT_EQ(pairs[2].suffix, 1);
  EXPECT_EQ(pairs[3].beta1, "other/beta1_power_3");
  EXPECT_EQ(pairs[3].suffix, 3);
}

TEST(SlotSets, TheAdamFixtureHoldsOneSet) {
  GRAFT_REQUIRE_FIXTURE_PREFIX(prefix, "tf1/adam_digits_0_to_4/ch11-exercise_model_0_to_4.ckpt");
  const BundleReader reader = BundleReader::open(prefix);
  const std::vector<SlotSet> sets = find_slot_sets(reader);
  ASSERT_EQ(names_of(sets), (std::vector<std::string>{"Adam"}));
  EXPECT_EQ(sets[0].slots.size(), 12u);  // hidden1..5 and outputs, kernel and bias
  EXPECT_EQ(keys_of(sets[0], "hidden2/kernel"),
            (std::vector<std::string>{"hidden2/kernel/Adam@0", "hidden2/kernel/Adam_1@1"}));
  const std::vector<PowerScalars> pairs = find_power_scalars(reader);
  ASSERT_EQ(pairs.size(), 1u);
  EXPECT_EQ(pairs[0].beta1, "train/beta1_power");
  EXPECT_EQ(pairs[0].beta2, "train/beta2_power");
}

}  // namespace
}  // namespace graft
