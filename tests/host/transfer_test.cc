// The transfer-learning workflow in the library: layer names, --freeze,
// the frozen-layer cache (decision, memory limit, fallback, and equality
// with the uncached path), and restore -> freeze -> train -> save, where the
// frozen tensors come back bitwise identical and the others have moved.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/error.h"
#include "host/train/frozen_cache.h"
#include "host/restore/transfer.h"
#include "tests/common/fixtures.h"
#include "tests/common/blobs_training.h"
#include "tests/common/synthetic_data.h"
#include "tests/common/tolerance.h"
#include "tests/common/expect_contains.h"
#include "tests/common/error_of.h"

namespace graft {
namespace {

using test::error_of;


const Activation kRelu{ActivationKind::kRelu};

Dataset problem() { return test::blobs_problem(300); }

OptimizerConfig adam() {
  OptimizerConfig o;
  o.kind = OptimizerKind::kAdam;
  o.learning_rate = 0.01f;
  return o;
}

TrainOptions options(int epochs, uint64_t seed = 5) { return test::blobs_train_options(epochs, seed); }

TEST(Transfer, LayerNames) {
  ModelSpec spec = make_mlp_spec(8, {4, 4}, 2, kRelu);
  set_layer_names(spec, {"dense", "dense_1", "logits"});
  EXPECT_EQ(kernel_name(spec.layers[0]), "dense/kernel");
  EXPECT_EQ(bias_name(spec.layers[2]), "logits/bias");
  EXPECT_CONTAINS(error_of([&] { set_layer_names(spec, {"a", "b"}); }), "2 names for a model of 3 layers");
  EXPECT_CONTAINS(error_of([&] { set_layer_names(spec, {"a", "a", "b"}); }), "'a' is given twice");
  EXPECT_CONTAINS(error_of([&] { set_layer_names(spec, {"a", "b c", "d"}); }), "'b c' is not a valid variable scope");
  EXPECT_CONTAINS(error_of([&] { set_layer_names(spec, {"a", "", "d"}); }), "not a valid variable scope");
}

TEST(Transfer, FreezeSelectsNamesOrScopesAndDropsSlots) {
  ModelSpec spec = make_mlp_spec(8, {6, 5, 4}, 3, kRelu);
  const auto frozen = freeze_variables(spec, {"hidden[12]", "outputs/bias"});
  EXPECT_EQ(frozen, (std::vector<std::string>{"hidden1/kernel", "hidden1/bias", "hidden2/kernel", "hidden2/bias",
                                              "outputs/bias"}));
  EXPECT_FALSE(spec.layers[1].kernel_trainable);
  EXPECT_TRUE(spec.layers[2].kernel_trainable);
  EXPECT_TRUE(spec.layers[3].kernel_trainable);
  EXPECT_FALSE(spec.layers[3].bias_trainable);
  const auto table = parameter_table(spec, OptimizerKind::kAdam);
  EXPECT_TRUE(find_parameter(table, "hidden1/kernel")->slot_names.empty());
  EXPECT_EQ(find_parameter(table, "hidden3/kernel")->slot_names.size(), 2u);
  EXPECT_TRUE(find_parameter(table, "outputs/bias")->slot_names.empty());
  EXPECT_EQ(frozen_prefix_layers(spec), 2);

  ModelSpec other = make_mlp_spec(8, {6}, 3, kRelu);
  const std::string msg = error_of([&] { freeze_variables(other, {"hiden1"}); });
  EXPECT_CONTAINS(msg, "--freeze 'hiden1' selects no model variable");
  EXPECT_CONTAINS(msg, "hidden1/");
  EXPECT_CONTAINS(error_of([&] { freeze_variables(other, {"("}); }), "--freeze '('");
  EXPECT_TRUE(freeze_variables(other, {}).empty());
}

TEST(Transfer, CacheDecision) {
  ModelSpec spec = make_mlp_spec(784, {300, 50, 50, 20}, 5, kRelu);
  BackendMemory ram{"RAM", int64_t{16} << 30, int64_t{8} << 30};
  // Nothing frozen: nothing to say.
  FrozenCacheDecision none = decide_frozen_cache(spec, 1000, {}, ram);
  EXPECT_EQ(none.frozen_layers, 0);
  EXPECT_EQ(none.first_layer, 0);
  EXPECT_TRUE(none.note.empty());

  freeze_variables(spec, {"hidden[123]"});
  const FrozenCacheDecision d = decide_frozen_cache(spec, 1000, {}, ram);
  EXPECT_EQ(d.frozen_layers, 3);
  EXPECT_EQ(d.first_layer, 3);
  EXPECT_EQ(d.width, 50);
  EXPECT_EQ(d.bytes, 1000 * (50 * 4 + 8));
  EXPECT_EQ(d.limit, int64_t{4} << 30);  // 25% of RAM
  EXPECT_CONTAINS(d.note, "hidden1..hidden3 are frozen");
  EXPECT_CONTAINS(d.note, "1000 rows x 50 floats");
  EXPECT_CONTAINS(d.note, "25% of RAM (16.0 GiB)");
  EXPECT_CONTAINS(d.note, "training hidden4..outputs from the cache");

  FrozenCacheOptions off;
  off.enabled = false;
  const FrozenCacheDecision disabled = decide_frozen_cache(spec, 1000, off, ram);
  EXPECT_EQ(disabled.first_layer, 0);
  EXPECT_CONTAINS(disabled.note, "--no-cache");

  FrozenCacheOptions tight;
  tight.limit_bytes = 1000;
  const FrozenCacheDecision over = decide_frozen_cache(spec, 1000, tight, ram);
  EXPECT_EQ(over.first_layer, 0);
  EXPECT_EQ(over.limit, 1000);
  EXPECT_CONTAINS(over.note, "would exceed the limit of 1000 B (--cache-limit)");
  EXPECT_CONTAINS(over.note, "falling back to training through the frozen layers");

  // A GPU: half of the free device memory.
  const BackendMemory gpu{"GPU memory", int64_t{80} << 30, int64_t{60} << 30};
  EXPECT_EQ(decide_frozen_cache(spec, 1000, {}, gpu).limit, int64_t{30} << 30);
  EXPECT_EQ(default_cache_limit(BackendMemory{"GPU memory", 0, 0}), int64_t{1} << 30);
  EXPECT_EQ(default_cache_limit(BackendMemory{"RAM", 0, 0}), int64_t{1} << 30);

  // Everything frozen: the cache never swallows the top layer.
  freeze_variables(spec, {".*"});
  EXPECT_EQ(frozen_prefix_layers(spec), 5);
  EXPECT_EQ(decide_frozen_cache(spec, 10, {}, ram).first_layer, 4);

  // One frozen layer.
  ModelSpec one = make_mlp_spec(8, {6, 5}, 3, kRelu);
  freeze_variables(one, {"hidden1"});
  EXPECT_CONTAINS(decide_frozen_cache(one, 10, {}, ram).note, "hidden1 is frozen; hidden1's output");
  // A frozen kernel with a trainable bias is not a frozen layer.
  ModelSpec half = make_mlp_spec(8, {6, 5}, 3, kRelu);
  freeze_variables(half, {"hidden1/kernel"});
  EXPECT_EQ(frozen_prefix_layers(half), 0);
}

TEST(Transfer, ByteSizes) {
  EXPECT_EQ(parse_byte_size("12345"), 12345);
  EXPECT_EQ(parse_byte_size("2G"), int64_t{2} << 30);
  EXPECT_EQ(parse_byte_size("2g"), int64_t{2} << 30);
  EXPECT_EQ(parse_byte_size("512M"), int64_t{512} << 20);
  EXPECT_EQ(parse_byte_size("512MB"), int64_t{512} << 20);
  EXPECT_EQ(parse_byte_size("1.5GiB"), int64_t{3} << 29);
  EXPECT_EQ(parse_byte_size("100k"), 102400);
  EXPECT_EQ(parse_byte_size("1T"), int64_t{1} << 40);
  for (const char* bad : {"", "G", "-1", "0", "2X", "2GG", "1.2.3", "2 Gib x"}) {
    EXPECT_THROW(parse_byte_size(bad), Error) << bad;
  }
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(int64_t{3} << 29), "1.5 GiB");
}

TEST(Transfer, HostMemoryIsKnown) {
  const BackendMemory m = make_cpu_backend(1)->memory();
  EXPECT_EQ(m.kind, "RAM");
  EXPECT_GT(m.total_bytes, 0);
  EXPECT_GT(m.available_bytes, 0);
  EXPECT_LE(m.available_bytes, m.total_bytes);
}

// Trains `spec` on problem() through prepare_training_data.
struct Trained {
  TrainingState state;
  TrainResult result;
  FrozenCacheReport cache;
  int first_layer = 0;
};

Trained train(const ModelSpec& spec, const FrozenCacheOptions& cache) {
  auto backend = make_cpu_backend(1);
  Trainer trainer(*backend, spec, adam(), options(3));
  const PreparedData data = prepare_training_data(*backend, trainer.spec(), problem(), cache);
  Trained t;
  t.result = trainer.fit(data.view());
  t.state = capture_state(*backend, trainer.table(), 2);
  t.cache = data.cache;
  t.first_layer = data.first_layer;
  return t;
}

TEST(Transfer, CachedTrainingEqualsUncachedTraining) {
  ModelSpec spec = make_mlp_spec(8, {16, 12, 6}, 4, kRelu);
  freeze_variables(spec, {"hidden[12]"});
  const Trained cached = train(spec, {});
  FrozenCacheOptions off;
  off.enabled = false;
  const Trained uncached = train(spec, off);
  FrozenCacheOptions tiny;
  tiny.limit_bytes = 100;
  const Trained fallback = train(spec, tiny);

  EXPECT_TRUE(cached.cache.used);
  EXPECT_EQ(cached.first_layer, 2);
  EXPECT_EQ(cached.cache.bytes, 500 * (12 * 4 + 8));  // train + validation + test rows
  EXPECT_FALSE(uncached.cache.used);
  EXPECT_EQ(uncached.first_layer, 0);
  EXPECT_FALSE(fallback.cache.used);
  EXPECT_CONTAINS(fallback.cache.note, "falling back");

  ASSERT_EQ(cached.state.params.size(), uncached.state.params.size());
  for (std::size_t i = 0; i < cached.state.params.size(); ++i) {
    EXPECT_TRUE(test::all_close(cached.state.params[i], uncached.state.params[i], 1e-5, 1e-4)) << "parameter " << i;
  }
  for (int frozen : {0, 1, 2, 3}) {
    EXPECT_EQ(cached.state.params[frozen], uncached.state.params[frozen]);  // untouched on both paths
  }
  for (std::size_t e = 0; e < cached.result.epochs.size(); ++e) {
    EXPECT_NEAR(cached.result.epochs[e].train_loss, uncached.result.epochs[e].train_loss, 1e-5);
    EXPECT_NEAR(*cached.result.epochs[e].validation_loss, *uncached.result.epochs[e].validation_loss, 1e-5);
    EXPECT_EQ(*cached.result.epochs[e].test_accuracy, *uncached.result.epochs[e].test_accuracy);
  }
  // The fallback is the uncached path itself.
  EXPECT_EQ(fallback.state.params, uncached.state.params);
  EXPECT_EQ(cached.state.scalars.step, uncached.state.scalars.step);
}

TEST(Transfer, PrepareChecksTheDataAgainstTheModel) {
  auto backend = make_cpu_backend(1);
  const ModelSpec spec = make_mlp_spec(8, {4}, 4, kRelu);
  Dataset d = problem();
  d.num_classes = 5;
  EXPECT_CONTAINS(error_of([&] { prepare_training_data(*backend, spec, d); }), "5 classes");
  d = problem();
  const ModelSpec wide = make_mlp_spec(9, {4}, 4, kRelu);
  EXPECT_CONTAINS(error_of([&] { prepare_training_data(*backend, wide, d); }), "8 features");
  d.validation = DataSplit{};
  d.test = DataSplit{};
  backend->build(spec.backend_shapes(), OptimizerConfig{}, 32);
  const PreparedData p = prepare_training_data(*backend, spec, d);
  EXPECT_TRUE(p.train);
  EXPECT_FALSE(p.validation);
  EXPECT_FALSE(p.test);
}

// Restore hidden1-2 of a trained source model into a new model with a new
// hidden3, freeze them, train (cached), save: the saved frozen tensors are
// bitwise the source's, the new ones moved, and frozen ones have no slots.
TEST(Transfer, RestoreFreezeTrainSaveKeepsFrozenTensorsBitwise) {
  test::TempDir dir;
  const std::string source = (dir / "source/model.ckpt").string();
  {
    auto backend = make_cpu_backend(1);
    TrainOptions t = options(3);
    t.save_prefix = source;
    Trainer trainer(*backend, make_mlp_spec(8, {16, 12, 10}, 4, kRelu), adam(), t);
    trainer.fit(problem());
  }
  const BundleReader src = BundleReader::open(source);

  ModelSpec spec = make_mlp_spec(8, {16, 12, 6}, 4, kRelu);  // hidden3 is new: 6 units
  freeze_variables(spec, {"hidden[12]"});
  auto backend = make_cpu_backend(1);
  const std::string saved = (dir / "new/model.ckpt").string();
  TrainOptions t = options(4, 11);
  Trainer trainer(*backend, spec, adam(), t);
  RestoreOptions restore;
  restore.restore = {"hidden[12]"};
  const RestorePlan plan = restore_into(trainer, src, restore);
  EXPECT_EQ(plan.restored_count(), 4);
  EXPECT_CONTAINS(plan.table(), "hidden3/kernel  [12, 6]      initialised (glorot_uniform)");
  const TrainingState before = capture_state(*backend, trainer.table(), 2);
  const PreparedData data = prepare_training_data(*backend, trainer.spec(), problem());
  EXPECT_TRUE(data.cache.used);
  trainer.fit(data.view());
  trainer.save(saved);

  const BundleReader out = BundleReader::open(saved);
  for (const char* name : {"hidden1/kernel", "hidden1/bias", "hidden2/kernel", "hidden2/bias"}) {
    ASSERT_TRUE(out.find(name)) << name;
    const auto a = out.read_float(*out.find(name)), b = src.read_float(*src.find(name));
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float))) << name << " changed";
    EXPECT_FALSE(out.find(std::string(name) + "/Adam")) << name << " is frozen: no slots";
  }
  for (const char* name : {"hidden3/kernel", "hidden3/bias", "outputs/kernel", "outputs/bias"}) {
    const ParameterSpec* p = find_parameter(trainer.table(), name);
    EXPECT_NE(out.read_float(*out.find(name)), before.params[static_cast<std::size_t>(p->index)]) << name;
    EXPECT_TRUE(out.find(std::string(name) + "/Adam")) << name;
    EXPECT_TRUE(out.find(std::string(name) + "/Adam_1")) << name;
  }
  EXPECT_TRUE(out.find("global_step"));
  std::ifstream state(dir / "new/checkpoint");
  std::stringstream text;
  text << state.rdbuf();
  EXPECT_CONTAINS(text.str(), "model_checkpoint_path: \"model.ckpt\"");
}

}  // namespace
}  // namespace graft
