// Training-loop reliability in the library: a run stopped mid-epoch and
// resumed (even twice) ends bitwise where an uninterrupted run ends;
// periodic checkpoints PREFIX-<step> kept to the newest K and recorded in the
// `checkpoint` state file; divergence stops with the step and the first bad
// tensor and never overwrites a good checkpoint. (The CLI side, with real
// signals, is tests/cli/cli_reliability_test.cc.) Also the InterruptGuard.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <csignal>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/error.h"
#include "checkpoint/state_file.h"
#include "host/train/checkpoint_rotation.h"
#include "host/train/divergence.h"
#include "host/train/interrupt.h"
#include "host/train/trainer.h"
#include "tests/common/fixtures.h"
#include "tests/common/blobs_training.h"
#include "tests/common/synthetic_data.h"

namespace fs = std::filesystem;

namespace graft {
namespace {


// 400 training rows in batches of 32: 13 steps per epoch, the last one short.
Dataset problem() { return test::blobs_problem(400, false); }

constexpr int64_t kBatches = 13;

ModelSpec spec() { return test::blobs_spec(); }

OptimizerConfig adam() {
  OptimizerConfig o;
  o.kind = OptimizerKind::kAdam;
  o.learning_rate = 0.01f;
  return o;
}

TrainOptions options(int epochs) { return test::blobs_train_options(epochs); }

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::set<std::string> files_in(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

// global_step of a checkpoint (every tensor's CRC checked on the way).
int64_t step_in(const std::string& prefix) {
  const BundleReader reader = BundleReader::open(prefix);
  for (const BundleEntry& e : reader.entries()) reader.verify(e);
  const std::string_view bytes = reader.raw_bytes(*reader.find("global_step"), true);
  int64_t step = -1;
  if (bytes.size() == sizeof step) std::memcpy(&step, bytes.data(), sizeof step);
  return step;
}

// Trains with the stop flag raised after `stop_after` steps of this run.
TrainResult fit_until(Trainer& trainer, const Dataset& d, std::atomic<bool>& stop, int64_t stop_after) {
  int64_t steps = 0;
  return trainer.fit(d, {}, [&](int, int64_t, int64_t) {
    if (++steps == stop_after) stop.store(true);
  });
}

void expect_same_state(Backend& a, Backend& b, const std::vector<ParameterSpec>& table) {
  const TrainingState sa = capture_state(a, table, 2), sb = capture_state(b, table, 2);
  EXPECT_EQ(sa.params, sb.params);  // bitwise: float == on every element, no NaN here
  EXPECT_EQ(sa.slots, sb.slots);
  EXPECT_EQ(sa.scalars.step, sb.scalars.step);
  EXPECT_EQ(sa.scalars.beta1_power, sb.scalars.beta1_power);
  EXPECT_EQ(sa.scalars.beta2_power, sb.scalars.beta2_power);
}

TEST(TrainerReliability, StopMidEpochThenResumeIsBitwiseAnUninterruptedRun) {
  test::TempDir dir;
  const Dataset d = problem();

  auto straight = make_cpu_backend(1);
  Trainer three(*straight, spec(), adam(), options(3));
  three.fit(d);

  // Stopped after 17 steps: epoch 2, batch 4 of 13.
  std::atomic<bool> stop{false};
  auto first = make_cpu_backend(1);
  TrainOptions o = options(3);
  o.stop = &stop;
  o.save_prefix = (dir / "run/model.ckpt").string();
  Trainer a(*first, spec(), adam(), o);
  const TrainResult ra = fit_until(a, d, stop, 17);
  EXPECT_TRUE(ra.interrupted);
  EXPECT_EQ(ra.step, 17);
  EXPECT_EQ(ra.epochs.size(), 1u);
  EXPECT_EQ(ra.saved_prefix, o.save_prefix);
  EXPECT_EQ(step_in(o.save_prefix), 17);

  // Resumed and stopped again inside the same epoch (5 more steps), then
  // resumed for the epochs left: the unfinished one counts as one of them.
  stop.store(false);
  auto second = make_cpu_backend(1);
  TrainOptions o2 = options(2);
  o2.stop = &stop;
  o2.save_prefix = o.save_prefix;
  Trainer b(*second, spec(), adam(), o2);
  EXPECT_EQ(b.resume(BundleReader::open(o.save_prefix)).step, 17);
  const TrainResult rb = fit_until(b, d, stop, 5);
  EXPECT_TRUE(rb.interrupted);
  EXPECT_EQ(rb.step, 22);
  EXPECT_TRUE(rb.epochs.empty());

  auto third = make_cpu_backend(1);
  Trainer c(*third, spec(), adam(), options(2));
  EXPECT_EQ(c.resume(BundleReader::open(o.save_prefix)).step, 22);
  const TrainResult rc = c.fit(d);
  ASSERT_EQ(rc.epochs.size(), 2u);
  EXPECT_EQ(rc.epochs[0].step, 2 * kBatches);
  EXPECT_EQ(rc.epochs[0].examples, 400 - 9 * 32);  // the rest of epoch 2 only
  EXPECT_FALSE(rc.interrupted);
  expect_same_state(*straight, *third, three.table());
}

TEST(TrainerReliability, StopAtAnEpochBoundaryAndWithoutSavePrefix) {
  test::TempDir dir;
  const Dataset d = problem();
  auto straight = make_cpu_backend(1);
  Trainer two(*straight, spec(), adam(), options(2));
  two.fit(d);

  std::atomic<bool> stop{false};
  auto first = make_cpu_backend(1);
  TrainOptions o = options(2);
  o.stop = &stop;
  o.interrupt_prefix = (dir / "interrupted/model.ckpt").string();  // no save_prefix
  Trainer a(*first, spec(), adam(), o);
  const TrainResult ra = fit_until(a, d, stop, kBatches);  // raised on the epoch's last step
  EXPECT_TRUE(ra.interrupted);
  EXPECT_EQ(ra.step, kBatches);
  EXPECT_EQ(ra.epochs.size(), 1u);  // the epoch itself completes
  EXPECT_EQ(ra.saved_prefix, o.interrupt_prefix);

  auto second = make_cpu_backend(1);
  Trainer b(*second, spec(), adam(), options(1));
  b.resume(BundleReader::open((dir / "interrupted").string()));  // via the `checkpoint` file
  b.fit(d);
  expect_same_state(*straight, *second, two.table());

  // Without either prefix nothing is written.
  stop.store(false);
  auto third = make_cpu_backend(1);
  TrainOptions none = options(1);
  none.stop = &stop;
  Trainer c(*third, spec(), adam(), none);
  EXPECT_TRUE(fit_until(c, d, stop, 3).saved_prefix.empty());
}

TEST(TrainerReliability, StopWithEarlyStoppingKeepsTheBestAtThePlainPrefix) {
  test::TempDir dir;
  const Dataset d = problem();
  std::atomic<bool> stop{false};
  auto backend = make_cpu_backend(1);
  TrainOptions o = options(3);
  o.stop = &stop;
  o.early_stopping_patience = 5;
  o.save_prefix = (dir / "model.ckpt").string();
  Trainer t(*backend, spec(), adam(), o);
  const TrainResult r = fit_until(t, d, stop, 17);
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.best_epoch, 1);
  EXPECT_EQ(r.saved_prefix, o.save_prefix + "-17");  // where it stopped, for --resume
  EXPECT_EQ(step_in(o.save_prefix), kBatches);      // the best epoch, untouched
  EXPECT_EQ(step_in(r.saved_prefix), 17);
}

TEST(TrainerReliability, SaveEveryStepsKeepsTheNewestK) {
  test::TempDir dir;
  const Dataset d = problem();
  // A plain checkpoint already recorded in the folder: it may leave the list
  // but its files are never deleted.
  {
    auto backend = make_cpu_backend(1);
    TrainOptions o = options(1);
    o.save_prefix = (dir / "other.ckpt").string();
    Trainer t(*backend, spec(), adam(), o);
    t.fit(d);
  }
  auto backend = make_cpu_backend(1);
  TrainOptions o = options(2);  // 26 steps
  o.save_prefix = (dir / "model.ckpt").string();
  o.save_every = parse_save_every("5steps");
  o.keep = 2;
  Trainer t(*backend, spec(), adam(), o);
  const TrainResult r = t.fit(d);
  EXPECT_EQ(r.saved_prefix, (dir / "model.ckpt-26").string());  // the final one, numbered too
  EXPECT_EQ(files_in(dir.path()),
            (std::set<std::string>{"checkpoint", "other.ckpt.index", "other.ckpt.data-00000-of-00001",
                                   "model.ckpt-25.index", "model.ckpt-25.data-00000-of-00001",
                                   "model.ckpt-26.index", "model.ckpt-26.data-00000-of-00001"}));
  const CheckpointState state = read_state_file((dir / "checkpoint").string());
  EXPECT_EQ(state.model_checkpoint_path, "model.ckpt-26");
  EXPECT_EQ(state.all_model_checkpoint_paths, (std::vector<std::string>{"model.ckpt-25", "model.ckpt-26"}));
  EXPECT_EQ(state.all_model_checkpoint_timestamps.size(), 2u);
  EXPECT_EQ(step_in((dir / "model.ckpt-25").string()), 25);  // each holds its own step
}

TEST(TrainerReliability, SaveEveryEpochsCountsEpochsAcrossResumes) {
  test::TempDir dir;
  const Dataset d = problem();
  const std::string prefix = (dir / "m").string();
  auto backend = make_cpu_backend(1);
  TrainOptions o = options(3);
  o.save_prefix = prefix;
  o.save_every = parse_save_every("2");
  o.keep = 0;  // keep all
  Trainer t(*backend, spec(), adam(), o);
  EXPECT_EQ(t.fit(d).saved_prefix, prefix + "-39");

  // Epoch 4 overall is the first of the resumed run: saved once, at step 52.
  auto again = make_cpu_backend(1);
  o.epochs = 1;
  Trainer u(*again, spec(), adam(), o);
  u.resume(BundleReader::open(dir.path().string()));
  EXPECT_EQ(u.fit(d).saved_prefix, prefix + "-52");
  EXPECT_EQ(read_state_file((dir / "checkpoint").string()).all_model_checkpoint_paths,
            (std::vector<std::string>{"m-26", "m-39", "m-52"}));

  TrainOptions bad = options(1);
  bad.save_every = parse_save_every("1epoch");
  EXPECT_THROW(Trainer(*backend, spec(), adam(), bad), Error);  // no save prefix
  bad.save_prefix = prefix;
  bad.keep = -1;
  EXPECT_THROW(Trainer(*backend, spec(), adam(), bad), Error);
}

TEST(TrainerReliability, DivergenceNamesStepAndTensorAndKeepsTheLastGoodCheckpoint) {
  test::TempDir dir;
  const Dataset d = problem();
  const std::string prefix = (dir / "model.ckpt").string();
  {
    auto backend = make_cpu_backend(1);
    TrainOptions o = options(1);
    o.save_prefix = prefix;
    Trainer good(*backend, spec(), adam(), o);
    good.fit(d);
  }
  const std::string index = read_bytes(prefix + ".index"), data = read_bytes(prefix + ".data-00000-of-00001"),
                    state = read_bytes(dir / "checkpoint");

  OptimizerConfig sgd;
  sgd.kind = OptimizerKind::kSgd;
  sgd.learning_rate = 1e10f;
  auto backend = make_cpu_backend(1);
  TrainOptions o = options(3);
  o.save_prefix = prefix;
  Trainer t(*backend, spec(), sgd, o);
  try {
    t.fit(d);
    FAIL() << "no divergence";
  } catch (const DivergenceError& e) {
    EXPECT_EQ(e.step(), kBatches);  // checked at the end of the first epoch
    EXPECT_EQ(e.tensor(), "hidden1/kernel");
    ASSERT_TRUE(e.loss());
    EXPECT_FALSE(std::isfinite(*e.loss()));
    EXPECT_NE(std::string(e.what()).find("training diverged at step 13: loss is nan; first non-finite tensor: "
                                         "hidden1/kernel"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(read_bytes(prefix + ".index"), index);
  EXPECT_EQ(read_bytes(prefix + ".data-00000-of-00001"), data);
  EXPECT_EQ(read_bytes(dir / "checkpoint"), state);

  // With a save every step, the scan before each save stops it: every
  // checkpoint written holds finite values only.
  auto stepwise = make_cpu_backend(1);
  o.save_prefix = (dir / "steps/m").string();
  o.save_every = parse_save_every("1step");
  o.keep = 0;
  Trainer s(*stepwise, spec(), sgd, o);
  EXPECT_THROW(s.fit(d), DivergenceError);
  const CheckpointState written = read_state_file((dir / "steps/checkpoint").string());
  ASSERT_FALSE(written.all_model_checkpoint_paths.empty());
  for (const std::string& p : written.all_model_checkpoint_paths) {
    const BundleReader r = BundleReader::open((dir / "steps" / p).string());
    for (const BundleEntry& e : r.entries()) {
      if (e.info.dtype != DType::kFloat) continue;
      for (float v : r.read_float(e)) ASSERT_TRUE(std::isfinite(v)) << p << " " << e.info.name;
    }
  }
}

TEST(TrainerReliability, FirstNonFiniteTensor) {
  const std::vector<ParameterSpec> table = parameter_table(spec(), OptimizerKind::kAdam);
  auto backend = make_cpu_backend(1);
  Trainer t(*backend, spec(), adam(), options(1));
  TrainingState state = capture_state(*backend, t.table(), 2);
  EXPECT_EQ(first_non_finite(state, table), "");
  EXPECT_EQ(first_non_finite_parameter(*backend, table), "");
  state.slots[3][1][2] = std::numeric_limits<float>::infinity();  // hidden2/bias/Adam_1
  EXPECT_EQ(first_non_finite(state, table), "hidden2/bias/Adam_1");
  state.params[4][0] = std::nanf("");  // outputs/kernel: later in table order
  EXPECT_EQ(first_non_finite(state, table), "hidden2/bias/Adam_1");
  state.params[2][7] = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(first_non_finite(state, table), "hidden2/kernel");
  restore_state(*backend, state);
  EXPECT_EQ(first_non_finite_parameter(*backend, table), "hidden2/kernel");

  const DivergenceError only_loss(7, std::numeric_limits<double>::infinity(), "");
  EXPECT_NE(std::string(only_loss.what()).find("training diverged at step 7: loss is inf; every parameter is still "
                                               "finite"),
            std::string::npos)
      << only_loss.what();
}

std::atomic<int> g_previous_handler_calls{0};
extern "C" void previous_handler(int) { g_previous_handler_calls.fetch_add(1); }

TEST(TrainerReliability, InterruptGuardRaisesTheFlagOnceAndRestoresHandlers) {
  struct sigaction mine {}, before {};
  mine.sa_handler = previous_handler;
  sigemptyset(&mine.sa_mask);
  sigaction(SIGTERM, &mine, &before);
  {
    InterruptGuard guard;
    EXPECT_FALSE(InterruptGuard::flag()->load());
    EXPECT_THROW(InterruptGuard(), Error);  // one at a time
    std::raise(SIGTERM);
    EXPECT_TRUE(InterruptGuard::flag()->load());
    EXPECT_EQ(guard.signal(), SIGTERM);
    std::raise(SIGINT);  // ignored: the first signal stays
    EXPECT_EQ(guard.signal(), SIGTERM);
    EXPECT_EQ(g_previous_handler_calls.load(), 0);
  }
  std::raise(SIGTERM);  // the handler from before the guard again
  EXPECT_EQ(g_previous_handler_calls.load(), 1);
  sigaction(SIGTERM, &before, nullptr);
  EXPECT_EQ(InterruptGuard::exit_code(SIGINT), 130);
  EXPECT_EQ(InterruptGuard::exit_code(SIGTERM), 143);
  EXPECT_STREQ(InterruptGuard::signal_name(SIGTERM), "SIGTERM");
}

TEST(TrainerReliability, ParseSaveEvery) {
  SaveEvery e = parse_save_every("3");
  EXPECT_EQ(e.count, 3);
  EXPECT_EQ(e.unit, SaveEvery::Unit::kEpochs);
  EXPECT_EQ(e.describe(), "every 3 epochs");
  e = parse_save_every("1epoch");
  EXPECT_EQ(e.describe(), "every epoch");
  e = parse_save_every("3epochs");
  EXPECT_EQ(e.count, 3);
  e = parse_save_every("500steps");
  EXPECT_EQ(e.count, 500);
  EXPECT_EQ(e.unit, SaveEvery::Unit::kSteps);
  EXPECT_EQ(parse_save_every("1step").describe(), "every step");
  for (const char* bad : {"", "0", "0steps", "-1", "3x", "steps", "3 steps", "1e3", "9999999999999999999"}) {
    EXPECT_THROW(parse_save_every(bad), Error) << bad;
  }
  EXPECT_EQ(numbered_prefix("a/model.ckpt", 1200), "a/model.ckpt-1200");
}

}  // namespace
}  // namespace graft
