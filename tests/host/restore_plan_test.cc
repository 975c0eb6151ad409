// The restore plan on the real TensorFlow fixtures: selection by name or
// scope, renames (scoped names, the `kernal` misspelling, TF2 Keras keys),
// optimizer slots, the reasons for unused checkpoint variables, and every
// error (with the closest names and a --rename rule that works). Synthetic
// checkpoints cover what no fixture has (a non-float model variable).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/bundle_writer.h"
#include "checkpoint/error.h"
#include "host/model/parameters.h"
#include "host/restore/rename_rules.h"
#include "host/restore/restore_plan.h"
#include "tests/common/fixtures.h"
#include "tests/common/expect_contains.h"
#include "tests/common/error_of.h"

namespace graft {
namespace {

using test::error_of;

namespace fs = std::filesystem;

const Activation kRelu{ActivationKind::kRelu};

std::vector<ParameterSpec> mlp_table(const std::vector<int64_t>& hidden, int64_t outputs,
                                     OptimizerKind optimizer = OptimizerKind::kSgd, int64_t inputs = 784) {
  return parameter_table(make_mlp_spec(inputs, hidden, outputs, kRelu), optimizer);
}

const PlannedVariable& planned(const RestorePlan& plan, const std::string& name) {
  const auto it = std::find_if(plan.variables.begin(), plan.variables.end(),
                               [&](const PlannedVariable& v) { return v.name == name; });
  if (it == plan.variables.end()) throw std::runtime_error("no planned variable " + name);
  return *it;
}

std::string reason(const RestorePlan& plan, const std::string& key) {
  for (const auto& u : plan.unused) {
    if (u.key == key) return u.reason;
  }
  return "(used)";
}

TEST(RestorePlan, NameOrScopeMatching) {
  const std::regex h123("hidden[123]");
  EXPECT_TRUE(matches_name_or_scope(h123, "hidden1/kernel"));
  EXPECT_TRUE(matches_name_or_scope(h123, "hidden3/bias"));
  EXPECT_FALSE(matches_name_or_scope(h123, "hidden4/kernel"));
  EXPECT_FALSE(matches_name_or_scope(h123, "hidden10/kernel"));  // a whole scope, not a prefix
  EXPECT_FALSE(matches_name_or_scope(std::regex("idden1"), "hidden1/kernel"));
  EXPECT_TRUE(matches_name_or_scope(std::regex("hidden1/.*"), "hidden1/kernel"));
  EXPECT_TRUE(matches_name_or_scope(std::regex("hidden1/kernel"), "hidden1/kernel"));
  EXPECT_TRUE(matches_name_or_scope(std::regex("dnn/hidden1"), "dnn/hidden1/kernel"));
  EXPECT_TRUE(matches_name_or_scope(std::regex("dnn"), "dnn/hidden1/kernel"));
  EXPECT_CONTAINS(error_of([] { compile_name_regexes({"hidden[12"}, "--restore"); }), "--restore 'hidden[12'");
}

TEST(RestorePlan, SeedOriginalHidden123IntoTheNewModel) {
  GRAFT_REQUIRE_FIXTURE(dir, "tf1/seed_original");
  const BundleReader reader = BundleReader::open((dir / "my_model_final.ckpt").string());
  // The book's new model: hidden1-3 reused, hidden4 of 20 units, new outputs.
  ModelSpec spec = make_mlp_spec(784, {300, 50, 50, 20}, 10, kRelu);
  for (int l = 0; l < 3; ++l) spec.layers[l].kernel_trainable = spec.layers[l].bias_trainable = false;
  const auto table = parameter_table(spec, OptimizerKind::kAdam);
  RestoreOptions options;
  options.restore = {"hidden[123]"};
  const RestorePlan plan = plan_restore(table, reader, options);

  EXPECT_EQ(plan.restored_count(), 6);
  EXPECT_EQ(planned(plan, "hidden1/kernel").source, VariableSource::kRestored);
  EXPECT_EQ(planned(plan, "hidden1/kernel").checkpoint_key, "hidden1/kernel");
  EXPECT_FALSE(planned(plan, "hidden1/kernel").trainable);
  EXPECT_EQ(planned(plan, "hidden3/bias").source, VariableSource::kRestored);
  EXPECT_EQ(planned(plan, "hidden4/kernel").source, VariableSource::kInitialised);
  EXPECT_EQ(planned(plan, "hidden4/kernel").initializer, "glorot_uniform");
  EXPECT_EQ(planned(plan, "outputs/bias").initializer, "zeros");

  EXPECT_CONTAINS(reason(plan, "hidden4/kernel"), "not selected by --restore");
  EXPECT_CONTAINS(reason(plan, "hidden4/kernel"), "[50, 50] differs from the model's [50, 20]");
  EXPECT_EQ(reason(plan, "hidden5/kernel"), "no such model variable");
  EXPECT_EQ(reason(plan, "outputs/bias"), "not selected by --restore");
  EXPECT_EQ(plan.unused.size(), 6u);

  const std::string table_text = plan.table();
  EXPECT_CONTAINS(table_text, "hidden1/kernel  [784, 300]   restored from hidden1/kernel [frozen]");
  EXPECT_CONTAINS(table_text, "hidden4/kernel  [50, 20]     initialised (glorot_uniform)");
  EXPECT_CONTAINS(table_text, "checkpoint variables not used:\n  hidden4/bias: not selected by --restore");
  EXPECT_CONTAINS(table_text, "6 of 10 model variables restored from " + reader.prefix());

  // Applying it: restored values are the checkpoint's, the rest the seeded
  // initial values.
  auto backend = make_cpu_backend(1);
  backend->build(spec.backend_shapes(), OptimizerConfig{}, 10);
  initialize_parameters(*backend, table, 7);
  apply_restore_plan(*backend, reader, table, plan);
  std::vector<float> got(784 * 300);
  backend->read_param(0, got.data());
  EXPECT_EQ(got, reader.read_float(*reader.find("hidden1/kernel")));
  std::vector<float> h4(50 * 20);
  backend->read_param(6, h4.data());
  EXPECT_EQ(h4, initial_values(*find_parameter(table, "hidden4/kernel"), 7));
}

TEST(RestorePlan, DefaultRestoresEveryModelVariableTheCheckpointHas) {
  GRAFT_REQUIRE_FIXTURE(dir, "tf1/seed_original");
  const BundleReader reader = BundleReader::open((dir / "my_model_final.ckpt").string());
  const RestorePlan all = plan_restore(mlp_table({300, 50, 50, 50, 50}, 10), reader, {});
  EXPECT_EQ(all.restored_count(), 12);
  EXPECT_TRUE(all.unused.empty());
  // Shapes must match unless told otherwise.
  const std::string msg = error_of([&] { plan_restore(mlp_table({300, 50, 50, 50, 50}, 5), reader, {}); });
  EXPECT_CONTAINS(msg, "outputs/kernel has shape [50, 10]");
  EXPECT_CONTAINS(msg, "model variable outputs/kernel has shape [50, 5]");
  EXPECT_CONTAINS(msg, "--skip-mismatch");
  RestoreOptions skip;
  skip.skip_mismatch = true;
  const RestorePlan skipped = plan_restore(mlp_table({300, 50, 50, 50, 50}, 5), reader, skip);
  EXPECT_EQ(skipped.restored_count(), 10);
  EXPECT_EQ(planned(skipped, "outputs/kernel").source, VariableSource::kSkippedMismatch);
  EXPECT_CONTAINS(reason(skipped, "outputs/kernel"), "skipped (--skip-mismatch)");
  EXPECT_CONTAINS(skipped.table(), "skipped outputs/kernel, shape [50, 10] != [50, 5]");
}

TEST(RestorePlan, RegexErrorsNameTheClosestVariables) {
  GRAFT_REQUIRE_FIXTURE(dir, "tf1/seed_original");
  const BundleReader reader = BundleReader::open((dir / "my_model_final.ckpt").string());
  const auto table = mlp_table({300, 50, 50, 20}, 5);
  RestoreOptions typo;
  typo.restore = {"hiden1"};
  const std::string nothing = error_of([&] { plan_restore(table, reader, typo); });
  EXPECT_CONTAINS(nothing, "--restore 'hiden1' selects no variable of the model");
  EXPECT_CONTAINS(nothing, "closest model variables: hidden1/");
  // A regex selecting a variable the checkpoint lacks (hidden6).
  RestoreOptions upper;
  upper.restore = {"hidden[56]"};
  const std::string missing =
      error_of([&] { plan_restore(mlp_table({300, 50, 50, 50, 50, 20}, 5), reader, upper); });
  EXPECT_CONTAINS(missing, "--restore selects model variable hidden6/kernel (also hidden6/bias), but");
  EXPECT_CONTAINS(missing, "closest checkpoint names:");
  EXPECT_CONTAINS(missing, "none has hidden6/kernel's shape [50, 20]");
}

TEST(RestorePlan, ScopedNamesNeedRenamesAndTheErrorSaysWhich) {
  GRAFT_REQUIRE_FIXTURE(dir, "tf1/scoped_names");
  const BundleReader reader = BundleReader::open(dir.string());
  const auto table = mlp_table({300, 100}, 10);
  RestoreOptions options;
  options.restore = {"hidden[12]"};
  const std::string bare = error_of([&] { plan_restore(table, reader, options); });
  EXPECT_CONTAINS(bare, "--restore selects model variable hidden1/kernel");
  EXPECT_CONTAINS(bare, "has no such variable");
  EXPECT_CONTAINS(bare, "closest checkpoint names: dnn/hidden1/kernal");
  EXPECT_CONTAINS(bare, "--rename '^dnn/(.*)/kernal$=$1/kernel'");

  // The scope rule alone fixes the biases; the misspelt kernels still fail,
  // and the error gives the rule for them.
  options.renames = parse_rename_rules({"dnn/(.*)=$1"});
  const std::string scope_only = error_of([&] { plan_restore(table, reader, options); });
  EXPECT_CONTAINS(scope_only, "hidden1/kernel (also hidden2/kernel)");
  EXPECT_CONTAINS(scope_only, "dnn/hidden1/kernal (renamed to hidden1/kernal)");
  EXPECT_CONTAINS(scope_only, "--rename '^dnn/(.*)/kernal$=$1/kernel'");

  // Both rules, the specific one first (the first rule that matches wins).
  options.renames = parse_rename_rules({"^dnn/(.*)/kernal$=$1/kernel", "dnn/(.*)=$1"});
  const RestorePlan plan = plan_restore(table, reader, options);
  EXPECT_EQ(plan.restored_count(), 4);
  EXPECT_EQ(planned(plan, "hidden1/kernel").checkpoint_key, "dnn/hidden1/kernal");
  EXPECT_EQ(planned(plan, "hidden2/bias").checkpoint_key, "dnn/hidden2/bias");
  EXPECT_EQ(reason(plan, "dnn/outputs/kernal"), "not selected by --restore (renamed to outputs/kernel)");

  // Without --restore: nothing in common at all is an error too.
  const std::string none = error_of([&] { plan_restore(table, reader, {}); });
  EXPECT_CONTAINS(none, "no variable of the model is in");
  EXPECT_CONTAINS(none, "--rename");

  // A --restore written with checkpoint names: say how to map them.
  RestoreOptions ckpt_names;
  ckpt_names.restore = {"dnn/hidden1"};
  const std::string wrong_side = error_of([&] { plan_restore(table, reader, ckpt_names); });
  EXPECT_CONTAINS(wrong_side, "it matches checkpoint variables dnn/hidden1/bias, dnn/hidden1/kernal");
  EXPECT_CONTAINS(wrong_side, "--rename '^dnn/(.*)=$1'");
}

TEST(RestorePlan, AdamSlotsAreOptIn) {
  GRAFT_REQUIRE_FIXTURE(dir, "tf1/adam_digits_0_to_4");
  const BundleReader reader = BundleReader::open((dir / "ch11-exercise_model_0_to_4.ckpt").string());
  ModelSpec spec = make_mlp_spec(784, {100, 100, 100, 100, 100}, 5, Activation{ActivationKind::kElu});
  spec.layers[0].kernel_trainable = spec.layers[0].bias_trainable = false;  // hidden1 frozen
  const auto table = parameter_table(spec, OptimizerKind::kAdam);

  const RestorePlan fresh = plan_restore(table, reader, {});
  EXPECT_EQ(fresh.restored_count(), 12);
  EXPECT_TRUE(planned(fresh, "hidden2/kernel").slots.empty());
  EXPECT_CONTAINS(reason(fresh, "hidden2/kernel/Adam"), "--restore-slots");
  EXPECT_CONTAINS(reason(fresh, "train/beta1_power"), "optimizer state");

  RestoreOptions with_slots;
  with_slots.restore_slots = true;
  const RestorePlan plan = plan_restore(table, reader, with_slots);
  const PlannedVariable& h2 = planned(plan, "hidden2/kernel");
  ASSERT_EQ(h2.slots.size(), 2u);
  EXPECT_EQ(h2.slots[0].slot, 0);
  EXPECT_EQ(h2.slots[0].checkpoint_key, "hidden2/kernel/Adam");
  EXPECT_EQ(h2.slots[1].checkpoint_key, "hidden2/kernel/Adam_1");
  EXPECT_TRUE(planned(plan, "hidden1/kernel").slots.empty());  // frozen: no slots
  EXPECT_CONTAINS(reason(plan, "hidden1/kernel/Adam"), "frozen variable");
  EXPECT_CONTAINS(plan.table(), "restored from hidden2/kernel + 2 optimizer slot(s)");

  auto backend = make_cpu_backend(1);
  OptimizerConfig adam;
  adam.kind = OptimizerKind::kAdam;
  backend->build(spec.backend_shapes(), adam, 10);
  apply_trainable(*backend, table);
  initialize_parameters(*backend, table, 1);
  apply_restore_plan(*backend, reader, table, plan);
  std::vector<float> slot(100 * 100);
  backend->read_slot(2, 1, slot.data());
  EXPECT_EQ(slot, reader.read_float(*reader.find("hidden2/kernel/Adam_1")));

  // SGD has no slots to restore into.
  const RestorePlan sgd = plan_restore(parameter_table(spec, OptimizerKind::kSgd), reader, with_slots);
  EXPECT_CONTAINS(reason(sgd, "hidden2/kernel/Adam"), "sgd does not have");
}

TEST(RestorePlan, KerasCheckpointWithOneRenamePerLayer) {
  GRAFT_REQUIRE_FIXTURE(dir, "tf2/keras_dense_adam");
  const BundleReader reader = BundleReader::open(dir.string());
  const auto table = mlp_table({32, 32, 32}, 5, OptimizerKind::kAdam);
  RestoreOptions options;
  options.restore = {"hidden[123]"};
  const std::string bare = error_of([&] { plan_restore(table, reader, options); });
  // The closest name by shape, not by spelling: layer_with_weights-0 is the
  // only [784, 32] kernel.
  EXPECT_CONTAINS(bare, "closest checkpoint names: layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE [784, 32]");
  EXPECT_CONTAINS(bare, "--rename '^layer_with_weights-0/(.*)=hidden1/$1'");

  options.renames = parse_rename_rules({"^layer_with_weights-0/(.*)=hidden1/$1", "^layer_with_weights-1/(.*)=hidden2/$1",
                                        "^layer_with_weights-2/(.*)=hidden3/$1"});
  options.restore_slots = true;
  const RestorePlan plan = plan_restore(table, reader, options);
  EXPECT_EQ(plan.restored_count(), 6);
  const PlannedVariable& k1 = planned(plan, "hidden1/kernel");
  EXPECT_EQ(k1.checkpoint_key, "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE");
  ASSERT_EQ(k1.slots.size(), 2u);  // Keras m, v -> Adam, Adam_1
  EXPECT_EQ(k1.slots[0].slot, 0);
  EXPECT_EQ(k1.slots[0].checkpoint_key, "layer_with_weights-0/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE");
  EXPECT_EQ(k1.slots[1].slot, 1);
  EXPECT_EQ(reason(plan, "_CHECKPOINTABLE_OBJECT_GRAPH"), "object graph (TF2 metadata)");
  EXPECT_CONTAINS(reason(plan, "optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE"), "optimizer state");
  EXPECT_EQ(reason(plan, "layer_with_weights-3/kernel/.ATTRIBUTES/VARIABLE_VALUE"), "no such model variable");
  EXPECT_CONTAINS(reason(plan, "layer_with_weights-3/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE"),
                  "not restored");

  // The same with the one-rule-per-layer spelling of the full key.
  RestoreOptions full_key;
  full_key.renames = parse_rename_rules(
      {"layer_with_weights-0/(kernel|bias)/.ATTRIBUTES/VARIABLE_VALUE=hidden1/$1",
       "layer_with_weights-1/(kernel|bias)/.ATTRIBUTES/VARIABLE_VALUE=hidden2/$1",
       "layer_with_weights-2/(kernel|bias)/.ATTRIBUTES/VARIABLE_VALUE=hidden3/$1",
       "layer_with_weights-3/(kernel|bias)/.ATTRIBUTES/VARIABLE_VALUE=outputs/$1"});
  const RestorePlan all = plan_restore(mlp_table({32, 32, 32}, 10), reader, full_key);
  EXPECT_EQ(all.restored_count(), 8);
}

TEST(RestorePlan, ConvolutionsAreRefusedClearly) {
  GRAFT_REQUIRE_FIXTURE(dir, "tf1/conv_adam");
  const BundleReader reader = BundleReader::open((dir / "my_mnist_model").string());
  const auto table = mlp_table({300, 100}, 10);
  const std::string none = error_of([&] { plan_restore(table, reader, {}); });
  EXPECT_CONTAINS(none, "no variable of the model is in");
  EXPECT_CONTAINS(none, "none has hidden1/kernel's shape [784, 300]");
  RestoreOptions conv;
  conv.restore = {"conv1"};
  const std::string selected = error_of([&] { plan_restore(table, reader, conv); });
  EXPECT_CONTAINS(selected, "4-D kernel");
  EXPECT_CONTAINS(selected, "cannot be restored");
  // A model layer that happens to share the name: a shape error naming both.
  ModelSpec named = make_mlp_spec(784, {64}, 10, kRelu);
  named.layers[0].name = "conv1";
  const std::string shape = error_of([&] { plan_restore(parameter_table(named, OptimizerKind::kSgd), reader, conv); });
  EXPECT_CONTAINS(shape, "conv1/kernel has shape [3, 3, 1, 32] (a 4-D kernel, not a dense layer)");
  EXPECT_CONTAINS(shape, "model variable conv1/kernel has shape [784, 64]");
  // Its dense head is usable.
  ModelSpec head = make_mlp_spec(3136, {64}, 10, kRelu);
  head.layers[0].name = "fc1";
  head.layers[1].name = "output";
  const RestorePlan plan = plan_restore(parameter_table(head, OptimizerKind::kSgd), reader, {});
  EXPECT_EQ(plan.restored_count(), 4);
  EXPECT_CONTAINS(reason(plan, "conv1/kernel"), "4-D kernel, not a dense layer");
}

TEST(RestorePlan, BatchNormVariablesAreListedWithTheirReason) {
  GRAFT_REQUIRE_FIXTURE(dir, "tf1/batchnorm");
  const BundleReader reader = BundleReader::open(dir.string());
  const RestorePlan plan = plan_restore(mlp_table({300, 200, 100}, 10), reader, {});
  EXPECT_EQ(plan.restored_count(), 8);
  EXPECT_EQ(plan.unused.size(), 16u);
  EXPECT_EQ(reason(plan, "batch_normalization/moving_mean"), "no such model variable (batch normalization)");
  EXPECT_EQ(reason(plan, "batch_normalization_3/gamma"), "no such model variable (batch normalization)");
}

TEST(RestorePlan, NonFloatVariablesAndDuplicateTargetsAreErrors) {
  test::TempDir dir;
  const std::string prefix = (dir / "odd.ckpt").string();
  {
    BundleWriter w(prefix);
    const std::vector<float> kernel(4 * 3, 0.5f);
    w.add_float("hidden1/kernel", {4, 3}, kernel.data());
    w.add_strings("hidden1/bias", {3}, {"a", "b", "c"});
    const std::vector<float> other(4 * 3, 1.5f);
    w.add_float("x/hidden1/kernel", {4, 3}, other.data());
    w.finish();
  }
  const BundleReader reader = BundleReader::open(prefix);
  const auto table = mlp_table({3}, 2, OptimizerKind::kSgd, 4);
  const std::string dtype = error_of([&] { plan_restore(table, reader, {}); });
  EXPECT_CONTAINS(dtype, "hidden1/bias has dtype string");
  EXPECT_CONTAINS(dtype, "cannot be converted to float32");
  RestoreOptions kernel_only;
  kernel_only.restore = {"hidden1/kernel"};
  EXPECT_EQ(plan_restore(table, reader, kernel_only).restored_count(), 1);
  kernel_only.renames = parse_rename_rules({"^x/(.*)=$1"});
  EXPECT_CONTAINS(error_of([&] { plan_restore(table, reader, kernel_only); }),
                  "hidden1/kernel and x/hidden1/kernel both map to model variable hidden1/kernel");
}

TEST(RestorePlan, InitialPlanListsEveryVariable) {
  ModelSpec spec = make_mlp_spec(8, {4}, 2, kRelu);
  spec.layers[0].kernel_trainable = false;
  const RestorePlan plan = initial_plan(parameter_table(spec, OptimizerKind::kSgd));
  EXPECT_EQ(plan.restored_count(), 0);
  const std::string text = plan.table();
  EXPECT_CONTAINS(text, "hidden1/kernel  [8, 4]       initialised (glorot_uniform) [frozen]");
  EXPECT_CONTAINS(text, "no checkpoint");
}

}  // namespace
}  // namespace graft
