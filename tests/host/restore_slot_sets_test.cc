// A checkpoint holding two optimizers' slots (tests/common/two_optimizers.h,
// the book's Adam then Adam2 for the new layer): --restore-slots and
// --resume take the set the graph's training op reads, say so, call the
// other set's slots another optimizer's (never "a slot that adam does not
// have"), take the other set when asked, refuse a set the checkpoint lacks;
// a resumed run keeps the stored names of the chosen set's slots and power
// scalars and writes the other optimizer's state back unchanged, so TF's
// Saver over the original graph restores every variable. The Adam fixture
// (one set) is as before.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/error.h"
#include "host/model/model_io.h"
#include "host/model/parameters.h"
#include "host/restore/restore_plan.h"
#include "host/train/model_checkpoint.h"
#include "host/train/trainer.h"
#include "tests/common/error_of.h"
#include "tests/common/expect_contains.h"
#include "tests/common/fixtures.h"
#include "tests/common/two_optimizers.h"

namespace graft {
namespace {

using test::power_value;
using test::slot_value;

const Activation kRelu{ActivationKind::kRelu};

std::string reason(const RestorePlan& plan, const std::string& key) {
  for (const auto& u : plan.unused) {
    if (u.key == key) return u.reason;
  }
  return "(used)";
}

const PlannedVariable& planned(const RestorePlan& plan, const std::string& name) {
  for (const auto& v : plan.variables) {
    if (v.name == name) return v;
  }
  throw std::runtime_error("no planned variable " + name);
}

std::vector<std::string> slot_keys(const PlannedVariable& v) {
  std::vector<std::string> out;
  for (const SlotRestore& s : v.slots) out.push_back(std::to_string(s.slot) + ":" + s.checkpoint_key);
  return out;
}

struct TwoOptimizerCheckpoint {
  test::TempDir dir;
  std::string prefix;
  explicit TwoOptimizerCheckpoint(const test::TwoOptimizers& o = {}) : prefix((dir / "two.ckpt").string()) {
    test::write_two_optimizers(prefix, o);
  }
};

std::vector<ParameterSpec> adam_table() {
  return parameter_table(make_mlp_spec(4, {3}, 2, kRelu), OptimizerKind::kAdam);
}

RestorePlan plan_with_slots(const std::string& prefix, const std::string& slot_set = "") {
  RestoreOptions options;
  options.restore_slots = true;
  options.slot_set = slot_set;
  return plan_restore(adam_table(), BundleReader::open(prefix), options);
}

// Fails on the code before slot sets: outputs' slots came from Adam (the
// first by key), and Adam2's were "optimizer slot that adam does not have".
TEST(RestoreSlotSets, TheSetTheGraphsTrainingOpReads) {
  const TwoOptimizerCheckpoint ckpt;
  const RestorePlan plan = plan_with_slots(ckpt.prefix);
  EXPECT_EQ(slot_keys(planned(plan, "outputs/kernel")),
            (std::vector<std::string>{"0:outputs/kernel/Adam2", "1:outputs/kernel/Adam2_1"}));
  // Adam2 trains outputs only: hidden1 keeps Adam's.
  EXPECT_EQ(slot_keys(planned(plan, "hidden1/kernel")),
            (std::vector<std::string>{"0:hidden1/kernel/Adam", "1:hidden1/kernel/Adam_1"}));
  EXPECT_EQ(reason(plan, "outputs/kernel/Adam"),
            "optimizer slot of another optimizer (Adam; --slot-set Adam restores it)");
  const std::string table = plan.table();
  EXPECT_CONTAINS(table, "optimizer slots: slot set Adam2 (the graph's training op reads it; an earlier training "
                         "op in the graph reads Adam); hidden1/kernel, hidden1/bias take slot set Adam");
  EXPECT_CONTAINS(table, "restored from outputs/kernel + 2 optimizer slot(s) of Adam2");
  EXPECT_CONTAINS(table, "restored from hidden1/kernel + 2 optimizer slot(s) of Adam\n");
  EXPECT_EQ(table.find("does not have"), std::string::npos) << table;

  // Restored: the values of Adam2's slots.
  const std::vector<ParameterSpec> table_spec = adam_table();
  auto backend = make_cpu_backend(1);
  OptimizerConfig adam;
  adam.kind = OptimizerKind::kAdam;
  backend->build(make_mlp_spec(4, {3}, 2, kRelu).backend_shapes(), adam, 4);
  initialize_parameters(*backend, table_spec, 1);
  apply_restore_plan(*backend, BundleReader::open(ckpt.prefix), table_spec, plan);
  std::vector<float> v(6);
  backend->read_slot(find_parameter(table_spec, "outputs/kernel")->index, 1, v.data());
  EXPECT_EQ(v, std::vector<float>(6, slot_value(1, 1)));
}

TEST(RestoreSlotSets, WithoutTheGraphTheFirstByNameSaidAsAssumed) {
  test::TwoOptimizers o;
  o.graph = false;
  const TwoOptimizerCheckpoint ckpt(o);
  const RestorePlan plan = plan_with_slots(ckpt.prefix);
  EXPECT_EQ(slot_keys(planned(plan, "outputs/kernel")),
            (std::vector<std::string>{"0:outputs/kernel/Adam", "1:outputs/kernel/Adam_1"}));
  EXPECT_EQ(reason(plan, "outputs/kernel/Adam2_1"),
            "optimizer slot of another optimizer (Adam2; --slot-set Adam2 restores it)");
  EXPECT_CONTAINS(plan.table(), "optimizer slots: slot set Adam (assumed: first of Adam, Adam2 by name; no graph " +
                                    ckpt.prefix + ".meta says which one training reads)");
}

TEST(RestoreSlotSets, SlotSetPicksTheOther) {
  const TwoOptimizerCheckpoint ckpt;
  const RestorePlan plan = plan_with_slots(ckpt.prefix, "Adam");
  EXPECT_EQ(slot_keys(planned(plan, "outputs/bias")),
            (std::vector<std::string>{"0:outputs/bias/Adam", "1:outputs/bias/Adam_1"}));
  EXPECT_EQ(reason(plan, "outputs/bias/Adam2"),
            "optimizer slot of another optimizer (Adam2; --slot-set Adam2 restores it)");
  EXPECT_CONTAINS(plan.table(), "optimizer slots: slot set Adam (as asked)\n");

  EXPECT_EQ(test::error_of([&] { plan_with_slots(ckpt.prefix, "Adam3"); }),
            "RestoreOptions::slot_set 'Adam3': " + ckpt.prefix +
                " holds no adam slot set Adam3; its slot sets are Adam, Adam2");
  RestoreOptions no_slots;
  no_slots.slot_set = "Adam2";
  EXPECT_CONTAINS(test::error_of([&] { plan_restore(adam_table(), BundleReader::open(ckpt.prefix), no_slots); }),
                  "RestoreOptions::slot_set 'Adam2' chooses which optimizer's slots restore_slots restores");
}

TEST(RestoreSlotSets, ASecondDefaultNamedAdam) {
  test::TwoOptimizers o;
  o.second = "Adam";
  const TwoOptimizerCheckpoint ckpt(o);
  const RestorePlan plan = plan_with_slots(ckpt.prefix);
  EXPECT_EQ(slot_keys(planned(plan, "outputs/kernel")),
            (std::vector<std::string>{"0:outputs/kernel/Adam_2", "1:outputs/kernel/Adam_3"}));
  EXPECT_EQ(reason(plan, "outputs/kernel/Adam_1"),
            "optimizer slot of another optimizer (Adam; --slot-set Adam restores it)");
}

// --- Resume ---------------------------------------------------------------

struct Resumed {
  std::unique_ptr<Backend> backend;
  std::vector<ParameterSpec> table = adam_table();
  OptimizerConfig adam;
  ResumeReport report;

  Resumed(const std::string& prefix, const ResumeOptions& options = {}) {
    adam.kind = OptimizerKind::kAdam;
    backend = make_cpu_backend(1);
    backend->build(make_mlp_spec(4, {3}, 2, kRelu).backend_shapes(), adam, 4);
    initialize_parameters(*backend, table, 1);
    report = resume_from_checkpoint(*backend, BundleReader::open(prefix), table, adam, options);
  }
  float slot(const std::string& var, int s) const {
    const ParameterSpec* p = find_parameter(table, var);
    std::vector<float> v(static_cast<std::size_t>(p->shape.size() == 2 ? p->shape[0] * p->shape[1] : p->shape[0]));
    backend->read_slot(p->index, s, v.data());
    return v.front();
  }
};

// Fails on the code before slot sets: Adam2's slots were "not used by this
// optimizer" (graft train refused them) and Adam's were resumed for outputs.
TEST(ResumeSlotSets, TheGraphsSetWithItsPowerScalarsAndTheOtherKept) {
  const TwoOptimizerCheckpoint ckpt;
  const Resumed r(ckpt.prefix);
  EXPECT_TRUE(r.report.unused_slots.empty()) << r.report.resumed();
  EXPECT_EQ(r.slot("outputs/kernel", 0), slot_value(1, 0));
  EXPECT_EQ(r.slot("outputs/bias", 1), slot_value(1, 1));
  EXPECT_EQ(r.slot("hidden1/kernel", 1), slot_value(0, 1));
  EXPECT_EQ(r.backend->read_scalars().beta1_power, power_value(1, 1));
  EXPECT_EQ(r.backend->read_scalars().beta2_power, power_value(1, 2));
  EXPECT_EQ(r.report.slot_set, "Adam2");
  EXPECT_EQ(r.report.slot_names.at("outputs/kernel"),
            (std::vector<std::string>{"outputs/kernel/Adam2", "outputs/kernel/Adam2_1"}));
  EXPECT_EQ(r.report.scalar_names.at("beta1_power"), "beta1_power_1");
  const std::string note = r.report.slot_set_note();
  EXPECT_CONTAINS(note, "optimizer slots: slot set Adam2 (the graph's training op reads it");
  EXPECT_CONTAINS(note, "power scalars beta1_power_1, beta2_power_1 (slot set Adam2's: its ApplyAdam nodes read them)");
  EXPECT_CONTAINS(note, "kept as stored, not trained (saves write them back): outputs/bias/Adam, outputs/bias/Adam_1, "
                        "outputs/kernel/Adam, outputs/kernel/Adam_1: optimizer slot of another optimizer (Adam; "
                        "--slot-set Adam resumes it)");
  EXPECT_CONTAINS(note, "beta1_power, beta2_power: power scalars of another optimizer");
  EXPECT_EQ(note.find("does not"), std::string::npos) << note;
}

TEST(ResumeSlotSets, SlotSetPicksTheOtherAndUnknownIsRefused) {
  const TwoOptimizerCheckpoint ckpt;
  ResumeOptions first;
  first.slot_set = "Adam";
  const Resumed r(ckpt.prefix, first);
  EXPECT_EQ(r.slot("outputs/kernel", 0), slot_value(0, 0));
  EXPECT_EQ(r.backend->read_scalars().beta1_power, power_value(0, 1));
  EXPECT_CONTAINS(r.report.slot_set_note(), "outputs/kernel/Adam2, outputs/kernel/Adam2_1: optimizer slot of another "
                                            "optimizer (Adam2; --slot-set Adam2 resumes it)");
  ResumeOptions unknown;
  unknown.slot_set = "Adam_2";
  EXPECT_EQ(test::error_of([&] { Resumed{ckpt.prefix, unknown}; }),
            "ResumeOptions::slot_set 'Adam_2': " + ckpt.prefix +
                " holds no adam slot set Adam_2; its slot sets are Adam, Adam2");
}

std::vector<std::string> keys_in(const std::string& prefix) {
  std::vector<std::string> keys;
  const BundleReader reader = BundleReader::open(prefix);
  for (const BundleEntry& e : reader.entries()) keys.push_back(e.info.name);
  return keys;
}

float value_of(const std::string& prefix, const std::string& key) {
  const BundleReader reader = BundleReader::open(prefix);
  return reader.read_float(*reader.find(key)).front();
}

// A run resumed from the checkpoint and saved: the chosen set's slots and
// power scalars under their stored names (trained), the other optimizer's
// as stored, every key of the original there (what a TF Saver over the
// original graph restores), and the choice recorded so the next resume
// (of graft's checkpoint, which has no graph) continues it.
TEST(ResumeSlotSets, SavesKeepTheStoredNamesAndTheOtherOptimizersState) {
  const TwoOptimizerCheckpoint ckpt;
  auto backend = make_cpu_backend(1);
  OptimizerConfig adam;
  adam.kind = OptimizerKind::kAdam;
  adam.learning_rate = 0.01f;
  TrainOptions options;
  options.batch_size = 4;
  Trainer trainer(*backend, make_mlp_spec(4, {3}, 2, kRelu), adam, options);
  trainer.resume(BundleReader::open(ckpt.prefix));
  std::mt19937 rng(3);
  std::vector<float> x(16);
  std::vector<int32_t> y(4);
  for (float& v : x) v = static_cast<float>(rng() % 100) / 100.0f;
  for (int32_t& v : y) v = static_cast<int32_t>(rng() % 2);
  const auto data = backend->upload(x.data(), y.data(), 4, 4);
  backend->train_step(*data, 0, 4, 0);
  const std::string saved = (ckpt.dir / "saved/model.ckpt").string();
  trainer.save(saved);

  const std::vector<std::string> original = keys_in(ckpt.prefix), after = keys_in(saved);
  for (const std::string& key : original) {
    EXPECT_NE(std::find(after.begin(), after.end(), key), after.end()) << key << " is missing from the save";
  }
  // Trained: Adam2's power scalars advanced one step, under their names.
  EXPECT_FLOAT_EQ(value_of(saved, "beta1_power_1"), power_value(1, 1) * 0.9f);
  EXPECT_NE(value_of(saved, "outputs/kernel/Adam2"), slot_value(1, 0));
  // Kept: Adam's, as stored.
  EXPECT_EQ(value_of(saved, "beta1_power"), power_value(0, 1));
  EXPECT_EQ(value_of(saved, "outputs/kernel/Adam"), slot_value(0, 0));
  const std::optional<ModelDescription> record = read_model_description(BundleReader::open(saved));
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->slot_set, "Adam2");
  EXPECT_EQ(record->scalar_names.at("beta1_power"), "beta1_power_1");
  EXPECT_EQ(record->slot_names.at("outputs/bias"),
            (std::vector<std::string>{"outputs/bias/Adam2", "outputs/bias/Adam2_1"}));

  // The next resume continues Adam2 from the record (no graph beside graft's save).
  auto again = make_cpu_backend(1);
  Trainer next(*again, *record, options);
  const ResumeReport report = next.resume(BundleReader::open(saved));
  EXPECT_EQ(report.slot_set, "Adam2");
  EXPECT_CONTAINS(report.slot_sets, "slot set Adam2 (the model recorded in " + saved + " trains with it)");
  EXPECT_CONTAINS(report.slot_sets, "power scalars beta1_power_1, beta2_power_1");
  EXPECT_FLOAT_EQ(again->read_scalars().beta1_power, power_value(1, 1) * 0.9f);
}

// The real Adam fixture holds one set: nothing about slot sets is said, and
// the scalars keep TF's train/ names as before.
TEST(ResumeSlotSets, TheAdamFixtureAsBefore) {
  GRAFT_REQUIRE_FIXTURE(index, "tf1/adam_digits_0_to_4/ch11-exercise_model_0_to_4.ckpt.index");
  const std::string prefix = index.string().substr(0, index.string().size() - 6);
  const BundleReader reader = BundleReader::open(prefix);
  ModelSpec spec = make_mlp_spec(784, {100, 100, 100, 100, 100}, 5, Activation{ActivationKind::kElu});
  OptimizerConfig adam;
  adam.kind = OptimizerKind::kAdam;
  const auto table = parameter_table(spec, adam.kind);
  auto backend = make_cpu_backend(1);
  backend->build(spec.backend_shapes(), adam, 8);
  const ResumeReport report = resume_from_checkpoint(*backend, reader, table, adam);
  EXPECT_EQ(report.slot_set_note(), "");
  EXPECT_TRUE(report.kept.empty());
  EXPECT_TRUE(report.slot_names.empty());
  EXPECT_EQ(report.scalar_names.at("beta1_power"), "train/beta1_power");
  EXPECT_EQ(report.resumed(), "resumed 12 variables, 24 optimizer slots (Adam, Adam_1), train/beta1_power, "
                              "train/beta2_power");

  RestoreOptions with_slots;
  with_slots.restore_slots = true;
  const RestorePlan plan = plan_restore(table, reader, with_slots);
  EXPECT_TRUE(plan.slot_sets.empty());
  EXPECT_EQ(plan.table().find("optimizer slots:"), std::string::npos);
  EXPECT_EQ(plan.table().find(" of Adam"), std::string::npos);
  EXPECT_CONTAINS(plan.table(), "restored from hidden2/kernel + 2 optimizer slot(s)\n");
}

}  // namespace
}  // namespace graft
