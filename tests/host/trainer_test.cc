// The Trainer on a small synthetic problem: learning, per-epoch reports,
// early stopping that restores and saves the best state, resuming that is
// indistinguishable from an uninterrupted run, the frozen-prefix path, and
// the errors.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/error.h"
#include "host/train/trainer.h"
#include "tests/common/fixtures.h"
#include "tests/common/blobs_training.h"
#include "tests/common/synthetic_data.h"

namespace graft {
namespace {

using test::blobs;

Dataset problem() { return test::blobs_problem(400); }

ModelSpec spec() { return test::blobs_spec(); }

OptimizerConfig momentum() {
  OptimizerConfig o;
  o.kind = OptimizerKind::kMomentum;
  o.learning_rate = 0.05f;
  return o;
}

TrainOptions options(int epochs) { return test::blobs_train_options(epochs); }

TEST(Trainer, LearnsAndReportsEveryEpoch) {
  auto backend = make_cpu_backend(1);
  Trainer trainer(*backend, spec(), momentum(), options(6));
  std::vector<EpochReport> reports;
  int64_t progress_calls = 0;
  const TrainResult result = trainer.fit(
      problem(), [&](const EpochReport& r) { reports.push_back(r); },
      [&](int, int64_t batch, int64_t batches) {
        ++progress_calls;
        EXPECT_EQ(batches, 13);  // 400 rows in batches of 32: 12 full + 1 of 16
        EXPECT_LE(batch, batches);
      });
  ASSERT_EQ(reports.size(), 6u);
  EXPECT_EQ(result.epochs.size(), 6u);
  EXPECT_EQ(progress_calls, 6 * 13);
  EXPECT_EQ(reports[0].epoch, 1);
  EXPECT_EQ(reports[5].step, 6 * 13);
  EXPECT_LT(reports[5].train_loss, 0.5 * reports[0].train_loss);
  ASSERT_TRUE(reports[5].test_accuracy && reports[5].validation_accuracy);
  EXPECT_GT(*reports[5].test_accuracy, 0.9);
  EXPECT_GT(*reports[5].validation_accuracy, 0.9);
  EXPECT_FALSE(result.stopped_early);
  EXPECT_TRUE(result.saved_prefix.empty());
}

TEST(Trainer, EarlyStoppingRestoresAndSavesTheBest) {
  test::TempDir dir;
  Dataset d = problem();
  // Validation labels contradict the training labels: the better the model
  // fits, the worse its validation loss, so epoch 1 stays the best.
  d.validation = blobs(100, 2, 1);
  TrainOptions o = options(10);
  o.early_stopping_patience = 2;
  o.save_prefix = (dir / "best").string();
  auto backend = make_cpu_backend(1);
  Trainer trainer(*backend, spec(), momentum(), o);
  const TrainResult result = trainer.fit(d);
  EXPECT_TRUE(result.stopped_early);
  EXPECT_EQ(result.best_epoch, 1);
  ASSERT_EQ(result.epochs.size(), 3u);
  EXPECT_TRUE(result.epochs[0].best);
  EXPECT_FALSE(result.epochs[2].best);
  EXPECT_EQ(result.saved_prefix, o.save_prefix);
  // The model holds the best epoch's state again...
  EXPECT_EQ(backend->read_scalars().step, 13);
  auto validation = backend->upload(d.validation.features.data(), d.validation.labels.data(), 100, 8);
  const EpochTotals now = trainer.evaluate(*validation);
  EXPECT_NEAR(now.loss_sum / 100, *result.epochs[0].validation_loss, 1e-9);
  // ... and so does the checkpoint.
  const BundleReader reader = BundleReader::open(o.save_prefix);
  std::vector<float> saved = reader.read_float(*reader.find("hidden1/kernel")), current(8 * 16);
  backend->read_param(0, current.data());
  EXPECT_EQ(saved, current);
}

TEST(Trainer, ResumeContinuesExactlyWhereTheRunStopped) {
  test::TempDir dir;
  const Dataset d = problem();
  OptimizerConfig adam;
  adam.kind = OptimizerKind::kAdam;
  adam.learning_rate = 0.01f;

  auto straight = make_cpu_backend(1);
  Trainer three(*straight, spec(), adam, options(3));
  three.fit(d);

  auto first = make_cpu_backend(1);
  TrainOptions o = options(2);
  o.save_prefix = (dir / "two").string();
  Trainer two(*first, spec(), adam, o);
  EXPECT_EQ(two.fit(d).saved_prefix, o.save_prefix);

  auto second = make_cpu_backend(1);
  TrainOptions other_seed = options(1);
  Trainer one(*second, spec(), adam, other_seed);
  const ResumeReport report = one.resume(BundleReader::open(o.save_prefix));
  EXPECT_EQ(report.step, 26);
  one.fit(d);
  const TrainingState a = capture_state(*straight, three.table(), 2), b = capture_state(*second, one.table(), 2);
  EXPECT_EQ(a.params, b.params);
  EXPECT_EQ(a.slots, b.slots);
  EXPECT_EQ(a.scalars.step, b.scalars.step);
  EXPECT_EQ(a.scalars.beta1_power, b.scalars.beta1_power);
}

TEST(Trainer, FrozenPrefixCacheTrainsLikeTheFullNetwork) {
  const Dataset d = problem();
  ModelSpec frozen = spec();
  frozen.layers[0].kernel_trainable = frozen.layers[0].bias_trainable = false;

  auto full = make_cpu_backend(1);
  Trainer a(*full, frozen, momentum(), options(2));
  a.fit(d);

  auto cached = make_cpu_backend(1);
  Trainer b(*cached, frozen, momentum(), options(2));
  auto train = cached->upload(d.train.features.data(), d.train.labels.data(), d.train.rows, 8);
  auto test = cached->upload(d.test.features.data(), d.test.labels.data(), d.test.rows, 8);
  auto train1 = cached->forward_prefix(*train, 1);
  auto test1 = cached->forward_prefix(*test, 1);
  TrainingData data;
  data.train = train1.get();
  data.test = test1.get();
  data.first_layer = 1;
  const TrainResult r = b.fit(data);
  EXPECT_FALSE(r.epochs.back().validation_accuracy);
  const TrainingState sa = capture_state(*full, a.table(), 1), sb = capture_state(*cached, b.table(), 1);
  for (std::size_t i = 0; i < sa.params.size(); ++i) {
    for (std::size_t k = 0; k < sa.params[i].size(); ++k) {
      EXPECT_NEAR(sa.params[i][k], sb.params[i][k], 1e-5) << "parameter " << i;
    }
  }
  EXPECT_EQ(sa.params[0], sb.params[0]);  // frozen: untouched in both
}

TEST(Trainer, StopFlagAndErrors) {
  auto backend = make_cpu_backend(1);
  std::atomic<bool> stop{true};
  TrainOptions o = options(3);
  o.stop = &stop;
  Trainer stopped(*backend, spec(), momentum(), o);
  const TrainResult r = stopped.fit(problem());
  EXPECT_TRUE(r.interrupted);
  EXPECT_TRUE(r.epochs.empty());
  EXPECT_EQ(backend->read_scalars().step, 0);

  Dataset d = problem();
  Trainer t(*backend, spec(), momentum(), options(1));
  d.num_classes = 5;
  EXPECT_THROW(t.fit(d), Error);
  d = problem();
  d.train.cols = d.validation.cols = d.test.cols = 4;
  EXPECT_THROW(t.fit(d), Error);
  TrainOptions early = options(2);
  early.early_stopping_patience = 1;
  Trainer e(*backend, spec(), momentum(), early);
  d = problem();
  d.validation = DataSplit{};
  EXPECT_THROW(e.fit(d), Error);
  ModelSpec all_frozen = spec();
  for (LayerSpec& l : all_frozen.layers) l.kernel_trainable = l.bias_trainable = false;
  Trainer f(*backend, all_frozen, momentum(), options(1));
  EXPECT_THROW(f.fit(problem()), Error);
  OptimizerConfig both = momentum();
  both.clip_value = both.clip_norm = 1.0f;
  EXPECT_THROW(Trainer(*backend, spec(), both, options(1)), Error);
  TrainOptions zero = options(1);
  zero.batch_size = 0;
  EXPECT_THROW(Trainer(*backend, spec(), momentum(), zero), Error);
}

}  // namespace
}  // namespace graft
