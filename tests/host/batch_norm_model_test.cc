// Batch norm and dropout through the rest of graft: the model description
// (JSON, validation, summary), the printed step plan, saving and evaluating
// a trained model again, transfer learning that restores and freezes batch
// norm layers, TensorFlow's and Keras's names for batch norm variables, and
// refusing a checkpoint whose moving statistics are not finite.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/bundle_writer.h"
#include "host/model/model_io.h"
#include "host/restore/checkpoint_layers.h"
#include "host/restore/restore_plan.h"
#include "host/restore/transfer.h"
#include "host/train/frozen_cache.h"
#include "host/train/trainer.h"
#include "tests/common/error_of.h"
#include "tests/common/expect_contains.h"
#include "tests/common/fixtures.h"
#include "tests/common/synthetic_data.h"

namespace graft {
namespace {

using test::error_of;

// 8 -> hidden1(16) -> bn -> dropout -> hidden2(8) -> bn -> dropout -> outputs(4).
ModelSpec bn_spec(bool before, float rate = 0.3f) {
  ModelSpec spec = make_mlp_spec(8, {16, 8}, 4, *parse_activation("elu"));
  add_batch_norm(spec, before, BatchNormAttrs{});
  if (rate > 0) add_dropout(spec, {rate});
  return spec;
}

Dataset blob_data() {
  Dataset d;
  d.train = test::blobs(400, 1);
  d.validation = test::blobs(100, 2);
  d.test = test::blobs(200, 3);
  d.num_classes = 4;
  return d;
}

OptimizerConfig adam() {
  OptimizerConfig o;
  o.kind = OptimizerKind::kAdam;
  o.learning_rate = 0.01f;
  return o;
}

std::vector<float> read_tensor(const std::string& prefix, const std::string& name) {
  const BundleReader r = BundleReader::open(prefix);
  const BundleEntry* e = r.find(name);
  if (!e) {
    ADD_FAILURE() << prefix << " has no " << name;
    return {};
  }
  return r.read_float(*e);
}

TEST(BatchNormModel, SpecNamesAndDescriptionRoundTrip) {
  const ModelSpec spec = bn_spec(true);
  std::vector<std::string> names;
  for (const LayerSpec& l : spec.layers) names.push_back(l.name);
  EXPECT_EQ(names, (std::vector<std::string>{"hidden1", "hidden1/batch_normalization", "hidden1/dropout", "hidden2",
                                             "hidden2/batch_normalization", "hidden2/dropout", "outputs"}));
  // Before the activation: the dense layer is linear, the batch norm applies elu.
  EXPECT_EQ(activation_name(spec.layers[0].activation), "identity");
  EXPECT_EQ(activation_name(spec.layers[1].activation), "elu");
  EXPECT_EQ(spec.describe(), "8-16-8-4 (elu) + batch norm + dropout");
  const std::vector<ParameterSpec> table = parameter_table(spec, OptimizerKind::kAdam);
  const ParameterSpec* mean = find_parameter(table, "hidden1/batch_normalization/moving_mean");
  const ParameterSpec* gamma = find_parameter(table, "hidden1/batch_normalization/gamma");
  ASSERT_TRUE(mean && gamma);
  EXPECT_TRUE(mean->slot_names.empty());  // op-updated: no slots
  EXPECT_FALSE(mean->optimized);
  EXPECT_EQ(gamma->slot_names, (std::vector<std::string>{"hidden1/batch_normalization/gamma/Adam",
                                                         "hidden1/batch_normalization/gamma/Adam_1"}));
  EXPECT_EQ(initializer_name(find_parameter(table, "hidden1/batch_normalization/moving_variance")->initializer),
            "ones");

  ModelDescription m = model_from_spec(spec, adam());
  m.nodes[1].batch_norm.momentum = 0.9;
  m.nodes[1].batch_norm.epsilon = 1e-5f;
  const ModelDescription back = model_from_json(model_to_json(m), "test");
  EXPECT_EQ(model_to_json(back), model_to_json(m));
  EXPECT_EQ(back.nodes[1].kind, NodeKind::kBatchNorm);
  EXPECT_DOUBLE_EQ(back.nodes[1].batch_norm.momentum, 0.9);
  EXPECT_FLOAT_EQ(back.nodes[1].batch_norm.epsilon, 1e-5f);
  EXPECT_EQ(back.nodes[2].kind, NodeKind::kDropout);
  EXPECT_FLOAT_EQ(back.nodes[2].rate, 0.3f);
  const ModelSpec again = spec_from_model(back);
  EXPECT_EQ(again.layers.size(), spec.layers.size());
  EXPECT_EQ(again.layers[2].rate, 0.3f);
  const std::string summary = m.summary();
  EXPECT_CONTAINS(summary, "  hidden1/batch_normalization  batch_norm      16  elu                      64  trainable");
  EXPECT_CONTAINS(summary, "  hidden1/dropout              dropout         16  identity                  0  -");
  EXPECT_CONTAINS(summary, "hidden1/batch_normalization: batch norm before the activation, momentum 0.9, epsilon 1e-05");
  EXPECT_CONTAINS(summary, "hidden1/dropout: dropout rate 0.3 in training, the identity in evaluation");
  EXPECT_EQ(m.architecture(), "8-16-8-4 (elu) + batch norm + dropout 0.3,0.3");

  // Validation names the field.
  ModelDescription bad = m;
  bad.nodes[2].rate = 1.0f;
  EXPECT_CONTAINS(error_of([&] { bad.validate(); }), "dropout node hidden1/dropout has rate 1 (rate must be in [0, 1))");
  bad = m;
  bad.nodes[1].batch_norm.epsilon = 0.0f;
  EXPECT_CONTAINS(error_of([&] { bad.validate(); }), "batch_norm.epsilon must be positive");
  bad = m;
  bad.nodes[1].variables.erase("moving_variance");
  EXPECT_CONTAINS(error_of([&] { bad.validate(); }), "names no moving_variance variable");
  bad = m;
  bad.nodes[1].units = 7;
  EXPECT_CONTAINS(error_of([&] { bad.validate(); }), "batch_norm node hidden1/batch_normalization has 7 units but 16");
  std::string json = model_to_json(m);
  json.replace(json.find("\"center\": true"), 14, "\"center\": 3");
  EXPECT_CONTAINS(error_of([&] { model_from_json(json, "x.json"); }), "nodes[1].batch_norm.center is not true or false");
}

TEST(BatchNormModel, PrintedStepPlans) {
  const ModelSpec spec = bn_spec(true);
  std::vector<std::string> names;
  for (const LayerSpec& l : spec.layers) names.push_back(l.name);
  const ParameterLayout layout = parameter_layout(spec.backend_shapes());
  std::vector<bool> trainable(static_cast<std::size_t>(layout.size()), true);
  EXPECT_EQ(plan_step(layout, trainable, 0, false).describe(names),
            "step plan:\n"
            "  mode: train (batch norm [batch]: batch statistics, moving averages updated; [moving]: moving "
            "statistics; dropout [on]: masked, [off]: identity)\n"
            "  forward: hidden1 hidden1/batch_normalization[batch] hidden1/dropout[on] hidden2 "
            "hidden2/batch_normalization[batch] hidden2/dropout[on] outputs\n"
            "  loss: sparse softmax cross-entropy\n"
            "  backward: outputs(dW,db,dX) hidden2/dropout(dX) hidden2/batch_normalization(dgamma,dbeta,dX) "
            "hidden2(dW,db,dX) hidden1/dropout(dX) hidden1/batch_normalization(dgamma,dbeta,dX) hidden1(dW,db)\n"
            "  exchange: none (one device)\n"
            "  update: each trainable parameter right after its gradient\n");
  EXPECT_EQ(plan_step(layout, trainable, 0, false, Mode::kEval).describe(names),
            "step plan (eval):\n"
            "  mode: eval (batch norm: moving statistics; dropout: identity)\n"
            "  forward: hidden1 hidden1/batch_normalization[moving] hidden1/dropout[off] hidden2 "
            "hidden2/batch_normalization[moving] hidden2/dropout[off] outputs\n"
            "  loss: sparse softmax cross-entropy (no gradients)\n");
  // A frozen prefix with batch norm (hidden1 and its batch norm frozen, statistics too), uncached:
  // it runs in inference form, and the dropout above it, below everything trained, is the identity.
  ModelSpec frozen = spec;
  freeze_variables(frozen, {"hidden1"});
  const std::vector<ParameterSpec> table = parameter_table(frozen, OptimizerKind::kSgd);
  std::vector<bool> flags;
  for (const ParameterSpec& p : table) flags.push_back(p.trainable);
  EXPECT_EQ(frozen_prefix_layers(frozen), 3);
  EXPECT_EQ(plan_step(layout, flags, 0, false).describe(names),
            "step plan:\n"
            "  mode: train (batch norm [batch]: batch statistics, moving averages updated; [moving]: moving "
            "statistics; dropout [on]: masked, [off]: identity)\n"
            "  forward: hidden1 hidden1/batch_normalization[moving] hidden1/dropout[off] hidden2 "
            "hidden2/batch_normalization[batch] hidden2/dropout[on] outputs\n"
            "  loss: sparse softmax cross-entropy\n"
            "  backward: outputs(dW,db,dX) hidden2/dropout(dX) hidden2/batch_normalization(dgamma,dbeta,dX) "
            "hidden2(dW,db)\n"
            "  exchange: none (one device)\n"
            "  update: each trainable parameter right after its gradient\n");
  // With the cache the step starts above the prefix.
  EXPECT_CONTAINS(plan_step(layout, flags, 3, false).describe(names),
                  "  forward: hidden2 hidden2/batch_normalization[batch] hidden2/dropout[on] outputs (from hidden2: "
                  "the nodes below are not run)\n");
  // TF1's behaviour: the frozen batch norm's statistics keep updating, so it trains in batch form.
  ModelSpec tf1 = spec;
  FreezeOptions keep;
  keep.frozen_batch_norm_updates_statistics = true;
  freeze_variables(tf1, {"hidden1"}, keep);
  std::vector<bool> tf1_flags;
  for (const ParameterSpec& p : parameter_table(tf1, OptimizerKind::kSgd)) tf1_flags.push_back(p.trainable);
  EXPECT_CONTAINS(plan_step(layout, tf1_flags, 0, false).describe(names),
                  "  forward: hidden1 hidden1/batch_normalization[batch] hidden1/dropout[on] hidden2");
  EXPECT_EQ(frozen_prefix_layers(tf1), 1);
  EXPECT_CONTAINS(model_from_spec(tf1, std::nullopt).summary(),
                  "frozen, statistics still updated in training (TF1 behaviour)");
  EXPECT_CONTAINS(model_from_spec(frozen, std::nullopt).summary(),
                  "frozen: inference mode in training (moving statistics fixed)");
}

// Trained, saved, and evaluated again from the checkpoint alone (its
// recorded description): the same test accuracy and loss, and the
// checkpoint holds the batch norm variables under TF's names.
TEST(BatchNormModel, SavesReloadsAndEvaluatesTheSame) {
  test::TempDir dir;
  const std::string prefix = (dir / "bn.ckpt").string();
  auto backend = make_cpu_backend(2);
  TrainOptions options;
  options.epochs = 3;
  options.batch_size = 32;
  options.save_prefix = prefix;
  Trainer trainer(*backend, bn_spec(false), adam(), options);
  const Dataset data = blob_data();
  const TrainResult result = trainer.fit(data);
  ASSERT_EQ(result.epochs.size(), 3u);
  ASSERT_TRUE(result.epochs.back().test_accuracy.has_value());
  EXPECT_GT(*result.epochs.back().test_accuracy, 0.5);

  const BundleReader reader = BundleReader::open(prefix);
  const std::optional<ModelDescription> m = read_model_description(reader);
  ASSERT_TRUE(m.has_value());
  for (const char* leaf : {"gamma", "beta", "moving_mean", "moving_variance"}) {
    EXPECT_NE(reader.find(std::string("hidden2/batch_normalization/") + leaf), nullptr) << leaf;
  }
  // The statistics moved from their initial values (0 and 1).
  EXPECT_NE(read_tensor(prefix, "hidden1/batch_normalization/moving_mean"), std::vector<float>(16, 0.0f));
  const CheckpointModel model = model_from_description(reader, *m);
  auto fresh = make_cpu_backend(1);
  fresh->build(model.spec.backend_shapes(), OptimizerConfig{}, 64);
  load_checkpoint_weights(*fresh, reader, model);
  const auto test = fresh->upload(data.test.features.data(), data.test.labels.data(), data.test.rows, data.test.cols);
  const EpochTotals t = fresh->evaluate(*test, 0);
  EXPECT_DOUBLE_EQ(static_cast<double>(t.correct) / static_cast<double>(t.samples), *result.epochs.back().test_accuracy);
  EXPECT_NEAR(t.loss_sum / static_cast<double>(t.samples), *result.epochs.back().test_loss, 1e-6);
}

// Transfer: restore hidden1 (its batch norm comes with the scope), freeze
// it, train the rest through the frozen-layer cache: the four batch norm
// variables are saved bit-identical to the source's. With TF1's behaviour
// the frozen statistics keep moving (and the cache cannot hold the layer).
TEST(BatchNormModel, TransferRestoresAndFreezesBatchNormBitIdentical) {
  test::TempDir dir;
  const std::string source = (dir / "source.ckpt").string();
  {
    auto backend = make_cpu_backend(1);
    TrainOptions options;
    options.epochs = 2;
    options.save_prefix = source;
    Trainer trainer(*backend, bn_spec(true), adam(), options);
    trainer.fit(blob_data());
  }
  for (bool tf1 : {false, true}) {
    const std::string target = (dir / (tf1 ? "tf1.ckpt" : "keras.ckpt")).string();
    ModelSpec spec = bn_spec(true);
    FreezeOptions freeze;
    freeze.frozen_batch_norm_updates_statistics = tf1;
    const std::vector<std::string> frozen = freeze_variables(spec, {"hidden1"}, freeze);
    EXPECT_EQ(frozen.size(), tf1 ? 4u : 6u);
    auto backend = make_cpu_backend(1);
    TrainOptions options;
    options.epochs = 2;
    options.seed = 7;
    options.save_prefix = target;
    Trainer trainer(*backend, spec, adam(), options);
    RestoreOptions restore;
    restore.restore = {"hidden1"};
    const RestorePlan plan = restore_into(trainer, BundleReader::open(source), restore);
    EXPECT_EQ(plan.restored_count(), 6);
    const PreparedData prepared = prepare_training_data(*backend, trainer.spec(), blob_data());
    EXPECT_EQ(prepared.first_layer, tf1 ? 1 : 3) << prepared.cache.note;  // TF1: hidden1 alone is frozen
    trainer.fit(prepared.view());
    for (const char* leaf : {"gamma", "beta", "moving_mean", "moving_variance", "kernel", "bias"}) {
      const std::string name = std::string(leaf == std::string("kernel") || leaf == std::string("bias")
                                               ? "hidden1/"
                                               : "hidden1/batch_normalization/") +
                               leaf;
      const bool statistics = std::string(leaf).rfind("moving", 0) == 0;
      if (tf1 && statistics) {
        EXPECT_NE(read_tensor(target, name), read_tensor(source, name)) << name;
      } else {
        EXPECT_EQ(read_tensor(target, name), read_tensor(source, name)) << name;  // bit for bit
      }
    }
    EXPECT_NE(read_tensor(target, "hidden2/kernel"), read_tensor(source, "hidden2/kernel"));
  }
}

// The frozen-layer cache over a prefix with batch norm (inference form) and
// dropout (the identity) trains like the uncached run through the same
// prefix: the same batches and masks, the prefix's outputs computed once.
// Equal up to float rounding (the cached prefix runs row-split GEMMs, the
// uncached step column-split ones): 1e-5 relative on weights of size ~0.5
// after 12 Adam steps, where a prefix run in training form (batch
// statistics) or with dropout on would differ in the first digit.
TEST(BatchNormModel, FrozenCacheOverBatchNormMatchesTheUncachedRun) {
  test::TempDir dir;
  const std::string source = (dir / "source.ckpt").string();
  {
    auto backend = make_cpu_backend(1);
    TrainOptions options;
    options.epochs = 1;
    options.save_prefix = source;
    Trainer trainer(*backend, bn_spec(true), adam(), options);
    trainer.fit(blob_data());
  }
  std::vector<std::vector<float>> kernels;
  for (bool cached : {true, false}) {
    ModelSpec spec = bn_spec(true);
    freeze_variables(spec, {"hidden1"});
    auto backend = make_cpu_backend(1);
    TrainOptions options;
    options.epochs = 1;
    options.batch_size = 32;
    Trainer trainer(*backend, spec, adam(), options);
    RestoreOptions restore;
    restore.restore = {"hidden1"};
    restore_into(trainer, BundleReader::open(source), restore);
    FrozenCacheOptions cache;
    cache.enabled = cached;
    const PreparedData prepared = prepare_training_data(*backend, trainer.spec(), blob_data(), cache);
    EXPECT_EQ(prepared.first_layer, cached ? 3 : 0);
    trainer.fit(prepared.view());
    const ParameterSpec* k = find_parameter(trainer.table(), "hidden2/kernel");
    std::vector<float> w(static_cast<std::size_t>(k->elements()));
    backend->read_param(k->index, w.data());
    kernels.push_back(w);
  }
  for (std::size_t i = 0; i < kernels[0].size(); ++i) {
    EXPECT_NEAR(kernels[0][i], kernels[1][i], 1e-5 * std::max(1.0f, std::fabs(kernels[1][i]))) << i;
  }
}

// Checkpoints written with other names for batch norm variables.
struct Var {
  std::string name;
  Shape shape;
  float value = 0.5f;
};

std::string write(const test::TempDir& dir, const std::string& file, std::vector<Var> vars) {
  std::sort(vars.begin(), vars.end(), [](const Var& a, const Var& b) { return a.name < b.name; });
  const std::string prefix = (dir / file).string();
  BundleWriter w(prefix);
  for (const Var& v : vars) {
    int64_t n = 1;
    for (int64_t d : v.shape) n *= d;
    std::vector<float> values(static_cast<std::size_t>(n), v.value);
    w.add_float(v.name, v.shape, values.data());
  }
  w.finish();
  return prefix;
}

std::vector<Var> dense(const std::string& scope, int64_t in, int64_t out, const std::string& suffix = "") {
  return {{scope + "/kernel" + suffix, {in, out}}, {scope + "/bias" + suffix, {out}}};
}

std::vector<Var> norm(const std::string& scope, int64_t units, bool gamma = true, const std::string& suffix = "") {
  std::vector<Var> v = {{scope + "/beta" + suffix, {units}},
                        {scope + "/moving_mean" + suffix, {units}},
                        {scope + "/moving_variance" + suffix, {units}, 1.0f}};
  if (gamma) v.push_back({scope + "/gamma" + suffix, {units}, 1.0f});
  return v;
}

std::vector<Var> join_vars(std::vector<std::vector<Var>> parts) {
  std::vector<Var> all;
  for (auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  return all;
}

std::vector<std::string> attachments(const std::string& prefix) {
  const BundleReader r = BundleReader::open(prefix);
  std::vector<std::string> out;
  for (const CheckpointBatchNorm& b : find_batch_norms(r, {}, find_dense_layers(r, {}))) {
    out.push_back(b.scope + "->" + b.after);
  }
  return out;
}

TEST(BatchNormNames, TensorFlowKerasAndContribLayoutsAttach) {
  test::TempDir dir;
  // tf.layers' defaults, one per hidden layer, in creation order.
  const std::string tf_layers = write(dir, "layers", join_vars({dense("hidden1", 6, 5), norm("batch_normalization", 5),
                                                                dense("hidden2", 5, 4), norm("batch_normalization_1", 4),
                                                                dense("outputs", 4, 3)}));
  EXPECT_EQ(attachments(tf_layers),
            (std::vector<std::string>{"batch_normalization->hidden1", "batch_normalization_1->hidden2"}));
  // tf.contrib.layers.batch_norm under the layer's scope, without gamma.
  const std::string contrib = write(dir, "contrib", join_vars({dense("hidden1", 6, 5), norm("hidden1/BatchNorm", 5, false),
                                                               dense("outputs", 5, 3)}));
  EXPECT_EQ(attachments(contrib), (std::vector<std::string>{"hidden1/BatchNorm->hidden1"}));
  // Keras TF2 object-graph keys: layers with weights numbered in model order.
  const std::string sfx = "/.ATTRIBUTES/VARIABLE_VALUE";
  const std::string keras = write(dir, "keras", join_vars({dense("layer_with_weights-0", 6, 5, sfx),
                                                           norm("layer_with_weights-1", 5, true, sfx),
                                                           dense("layer_with_weights-2", 5, 3, sfx)}));
  EXPECT_EQ(attachments(keras), (std::vector<std::string>{"layer_with_weights-1->layer_with_weights-0"}));
  CheckpointModelOptions options;
  options.activation = *parse_activation("relu");
  const CheckpointModel km = model_from_checkpoint(BundleReader::open(keras), options);
  ASSERT_EQ(km.spec.layers.size(), 3u);
  EXPECT_EQ(km.spec.layers[1].kind, NodeKind::kBatchNorm);
  EXPECT_EQ(activation_name(km.spec.layers[1].activation), "relu");
  EXPECT_EQ(km.layers[1].leaf_keys.at("gamma"), "layer_with_weights-1/gamma" + sfx);
  const CheckpointModel cm = model_from_checkpoint(BundleReader::open(contrib), options);
  EXPECT_FALSE(cm.spec.layers[1].batch_norm.scale);
  EXPECT_CONTAINS(cm.assumptions.front(), "no gamma stored: scale off");
  // Two batch norms for five dense layers: which layers? Refused, naming them.
  const std::string ambiguous =
      write(dir, "ambiguous", join_vars({dense("hidden1", 6, 5), dense("hidden2", 5, 5), dense("hidden3", 5, 5),
                                         dense("hidden4", 5, 5), dense("outputs", 5, 3), norm("batch_normalization", 5),
                                         norm("batch_normalization_1", 5)}));
  const std::string e = error_of([&] { attachments(ambiguous); });
  EXPECT_CONTAINS(e, "2 batch normalizations (batch_normalization, batch_normalization_1) for 5 dense layers");
  EXPECT_CONTAINS(e, "ambiguous");
  // A graft model restores tf.layers-named batch norm into DENSE/batch_normalization.
  ModelSpec spec = make_mlp_spec(6, {5, 4}, 3, *parse_activation("relu"));
  add_batch_norm(spec, true, BatchNormAttrs{});
  const RestorePlan plan = plan_restore(parameter_table(spec, OptimizerKind::kSgd), BundleReader::open(tf_layers), {});
  EXPECT_EQ(plan.restored_count(), 14);
  EXPECT_CONTAINS(plan.table(), "hidden2/batch_normalization/moving_mean      [4]          restored from "
                                "batch_normalization_1/moving_mean");
}

TEST(BatchNormNames, NonFiniteMovingStatisticsAreRefusedNamingTheTensor) {
  test::TempDir dir;
  std::vector<Var> vars = join_vars({dense("hidden1", 6, 5), norm("hidden1/batch_normalization", 5),
                                     dense("outputs", 5, 3)});
  for (Var& v : vars) {
    if (v.name == "hidden1/batch_normalization/moving_variance") v.value = std::numeric_limits<float>::quiet_NaN();
  }
  const std::string prefix = write(dir, "nan", vars);
  const BundleReader reader = BundleReader::open(prefix);
  CheckpointModelOptions options;
  options.activation = *parse_activation("relu");
  const CheckpointModel model = model_from_checkpoint(reader, options);
  auto backend = make_cpu_backend(1);
  backend->build(model.spec.backend_shapes(), OptimizerConfig{}, 8);
  EXPECT_CONTAINS(error_of([&] { load_checkpoint_weights(*backend, reader, model); }),
                  "tensor 'hidden1/batch_normalization/moving_variance' holds NaN at element 0 of 5");
  // And as a transfer source.
  ModelSpec spec = make_mlp_spec(6, {5}, 3, *parse_activation("relu"));
  add_batch_norm(spec, false, BatchNormAttrs{});
  auto b2 = make_cpu_backend(1);
  Trainer trainer(*b2, spec, adam(), TrainOptions{});
  EXPECT_CONTAINS(error_of([&] { restore_into(trainer, reader, {}); }), "hidden1/batch_normalization/moving_variance");
}

}  // namespace
}  // namespace graft
