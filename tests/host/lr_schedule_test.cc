// Learning-rate schedules: each formula against values computed by hand from
// TF1's definitions (tf.train.*_decay, learning_rate_decay.py), the text
// form and its one-line errors, reduce-on-plateau's epochs, the CPU backend
// applying the schedule at its own global step, and a resumed run that
// continues the schedule bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/error.h"
#include "host/math/lr_schedule.h"
#include "host/model/lr_schedule_spec.h"
#include "host/model/model_description.h"
#include "host/model/model_io.h"
#include "host/train/trainer.h"
#include "tests/common/backend_compare.h"
#include "tests/common/blobs_training.h"
#include "tests/common/fixtures.h"
#include "tests/common/small_net.h"

namespace graft {
namespace {

using math::LrScheduleKind;
using math::scheduled_lr;

// The blobs network with momentum (lr 0.05), as a model description.
ModelDescription blobs_model() {
  OptimizerConfig o;
  o.kind = OptimizerKind::kMomentum;
  o.learning_rate = 0.05f;
  return model_from_spec(test::blobs_spec(), o);
}

// The float32 formulas round a few times (a division, pow/exp/cos, a
// product): 1e-6 relative is a few ulps, far below any wrong formula.
void expect_rate(const std::string& text, float lr, int64_t step, double expected) {
  const math::LrSchedule s = parse_lr_schedule(text);
  EXPECT_NEAR(scheduled_lr(s, lr, step), expected, 1e-6 * expected) << text << " at step " << step;
}

TEST(LrSchedule, ExponentialDecay) {
  const std::string smooth = "exponential:decay_steps=10000,decay_rate=0.1";
  expect_rate(smooth, 0.1f, 0, 0.1);
  expect_rate(smooth, 0.1f, 5000, 0.1 * std::sqrt(0.1));  // 0.0316227766
  expect_rate(smooth, 0.1f, 20000, 0.001);
  const std::string stairs = smooth + ",staircase";
  expect_rate(stairs, 0.1f, 9999, 0.1);
  expect_rate(stairs, 0.1f, 10000, 0.01);
  expect_rate(stairs, 0.1f, 25000, 0.001);
}

TEST(LrSchedule, InverseTimeAndNaturalExpDecay) {
  expect_rate("inverse_time:decay_steps=1000,decay_rate=0.5", 0.1f, 1000, 0.1 / 1.5);
  expect_rate("inverse_time:decay_steps=1000,decay_rate=0.5", 0.1f, 3000, 0.04);
  expect_rate("inverse_time:decay_steps=1000,decay_rate=0.5,staircase", 0.1f, 1999, 0.1 / 1.5);
  expect_rate("natural_exp:decay_steps=100,decay_rate=0.5", 0.1f, 200, 0.1 * std::exp(-1.0));  // 0.0367879441
  expect_rate("natural_exp:decay_steps=100,decay_rate=0.5,staircase", 0.1f, 299, 0.1 * std::exp(-1.0));
}

TEST(LrSchedule, PolynomialDecayWithAndWithoutCycle) {
  const std::string p = "polynomial:decay_steps=1000,end_lr=0.01,power=2";
  expect_rate(p, 0.1f, 500, 0.09 * 0.25 + 0.01);  // 0.0325
  expect_rate(p, 0.1f, 1000, 0.01);
  expect_rate(p, 0.1f, 2000, 0.01);  // held at end_lr
  // cycle: decay_steps * ceil(step / decay_steps); step 0 counts as one cycle.
  expect_rate(p + ",cycle", 0.1f, 0, 0.1);
  expect_rate(p + ",cycle", 0.1f, 1000, 0.01);
  expect_rate(p + ",cycle", 0.1f, 1500, 0.09 * 0.0625 + 0.01);  // over 2000 steps: (1 - 0.75)^2
  // TF's defaults: end_lr 0.0001, power 1.
  expect_rate("polynomial:decay_steps=100", 0.1f, 50, (0.1 - 0.0001) * 0.5 + 0.0001);
}

TEST(LrSchedule, CosineDecay) {
  const std::string c = "cosine:decay_steps=1000,alpha=0.1";
  expect_rate(c, 0.1f, 0, 0.1);
  expect_rate(c, 0.1f, 500, 0.1 * (0.9 * 0.5 + 0.1));  // cos(pi/2) = 0: 0.055
  expect_rate(c, 0.1f, 250, 0.1 * (0.9 * 0.5 * (1 + std::cos(M_PI / 4)) + 0.1));  // 0.0868198052
  expect_rate(c, 0.1f, 1000, 0.01);
  expect_rate(c, 0.1f, 5000, 0.01);
}

TEST(LrSchedule, PiecewiseConstantUsesItsValuesAsTheRate) {
  const std::string p = "piecewise:boundaries=100/200,values=1/0.5/0.1";
  expect_rate(p, 7.0f, 0, 1.0);
  expect_rate(p, 7.0f, 100, 1.0);  // x <= boundaries[0]
  expect_rate(p, 7.0f, 101, 0.5);
  expect_rate(p, 7.0f, 200, 0.5);
  expect_rate(p, 7.0f, 201, 0.1);
}

TEST(LrSchedule, ConstantAndPlateauReturnTheRateItself) {
  for (const char* text : {"constant", "plateau", "plateau:factor=0.5,patience=5"}) {
    const math::LrSchedule s = parse_lr_schedule(text);
    for (int64_t step : {0, 1, 12345}) EXPECT_EQ(scheduled_lr(s, 0.0123f, step), 0.0123f) << text;
  }
}

TEST(LrSchedule, TextRoundTripsAndErrorsNameTheParameter) {
  for (const char* text :
       {"exponential:decay_steps=10000,decay_rate=0.1,staircase", "inverse_time:decay_steps=7,decay_rate=0.33333334",
        "natural_exp:decay_steps=3,decay_rate=0", "polynomial:decay_steps=10,end_lr=0.001,power=0.5,cycle",
        "cosine:decay_steps=100,alpha=0", "piecewise:boundaries=5/10/20,values=0.1/0.05/0.01/0.001",
        "plateau:factor=0.5,patience=5,min_lr=1e-05,min_delta=0.0001,cooldown=2", "constant"}) {
    EXPECT_EQ(lr_schedule_text(parse_lr_schedule(text)), text);
  }
  const std::pair<const char*, const char*> bad[] = {
      {"exponential:decay_steps=0,decay_rate=0.1", "decay_steps must be a positive number"},
      {"exponential:decay_rate=0.1", "decay_steps is required"},
      {"exponential:decay_steps=10,decay_rate=x", "decay_rate must be a number, not 'x'"},
      {"exponential:decay_steps=10,decay_rate=0.1,stairs", "no parameter 'stairs'"},
      {"exponential:decay_steps=10,decay_rate=0.1,staircase=1", "staircase is a flag"},
      {"cosine:decay_steps=10,alpha=2", "alpha must be in [0, 1]"},
      {"piecewise:boundaries=10/5,values=1/2/3", "boundaries must be increasing"},
      {"piecewise:boundaries=10,values=1", "values needs one rate more than boundaries"},
      {"plateau:factor=1.5", "factor must be in (0, 1)"},
      {"plateau:patience=-1", "patience must be a number of epochs"},
      {"step:decay_steps=1", "unknown lr schedule 'step'"},
  };
  for (const auto& [text, message] : bad) {
    try {
      parse_lr_schedule(text);
      ADD_FAILURE() << text << " was accepted";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(message), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  }
}

TEST(LrSchedule, PlateauReducesAfterPatienceEpochsLikeKeras) {
  const math::LrSchedule s = parse_lr_schedule("plateau:factor=0.5,patience=2,min_lr=0.02,cooldown=1");
  PlateauState st;
  float lr = 0.1f;
  // Keras ReduceLROnPlateau by hand: improvement needs loss < best - 1e-4.
  lr = plateau_step(s, st, 1.0, lr);      // best 1.0
  EXPECT_EQ(lr, 0.1f);
  lr = plateau_step(s, st, 0.99995, lr);  // not by min_delta: wait 1
  EXPECT_EQ(st.wait, 1);
  lr = plateau_step(s, st, 1.2, lr);      // wait 2 = patience: 0.05, cooldown 1
  EXPECT_EQ(lr, 0.05f);
  EXPECT_EQ(st.cooldown_left, 1);
  // The cooldown is counted down first (and resets the wait); once it is
  // over the same epoch counts towards the patience again (Keras's order).
  lr = plateau_step(s, st, 1.3, lr);
  EXPECT_EQ(st.cooldown_left, 0);
  EXPECT_EQ(st.wait, 1);
  EXPECT_EQ(lr, 0.05f);
  lr = plateau_step(s, st, 1.3, lr);      // wait 2: 0.025
  EXPECT_FLOAT_EQ(lr, 0.025f);
  lr = plateau_step(s, st, 0.5, lr);      // an improvement resets the count
  EXPECT_EQ(st.best, 0.5);
  EXPECT_EQ(st.wait, 0);
  for (int e = 0; e < 6; ++e) lr = plateau_step(s, st, 0.6, lr);
  EXPECT_EQ(lr, 0.02f);  // max(0.0125, min_lr)
}

TEST(LrSchedule, ModelDescriptionRecordsScheduleAndPlateauState) {
  ModelDescription m = blobs_model();
  m.optimizer->schedule = parse_lr_schedule("plateau:factor=0.5,patience=3");
  m.plateau.best = 0.25;
  m.plateau.wait = 2;
  const ModelDescription back = model_from_json(model_to_json(m), "test");
  EXPECT_TRUE(same_lr_schedule(back.optimizer->schedule, m.optimizer->schedule));
  EXPECT_EQ(back.plateau.best, 0.25);
  EXPECT_EQ(back.plateau.wait, 2);
  m.optimizer->schedule = parse_lr_schedule("cosine:decay_steps=77,alpha=0.25");
  EXPECT_EQ(lr_schedule_text(model_from_json(model_to_json(m), "test").optimizer->schedule),
            "cosine:decay_steps=77,alpha=0.25");
  EXPECT_NE(m.summary().find("lr schedule cosine:decay_steps=77"), std::string::npos);
}

// The backend computes the rate from its own global step: the same as
// setting each step's rate by hand on a constant-rate backend.
TEST(LrSchedule, CpuBackendAppliesTheScheduleAtItsGlobalStep) {
  const test::TeacherData data = test::make_teacher_data(61, 13, 5, 3);
  const Activation relu{ActivationKind::kRelu, 0.2f};
  const Activation identity{ActivationKind::kIdentity, 0.2f};
  for (OptimizerKind kind : {OptimizerKind::kSgd, OptimizerKind::kMomentum, OptimizerKind::kAdam}) {
    SCOPED_TRACE(optimizer_name(kind));
    const test::Net net = test::make_net({13, 17, 5}, {relu, identity}, 9);
    OptimizerConfig scheduled;
    scheduled.kind = kind;
    scheduled.learning_rate = 0.05f;
    scheduled.schedule = parse_lr_schedule("exponential:decay_steps=3,decay_rate=0.5");
    OptimizerConfig by_hand = scheduled;
    by_hand.schedule = math::LrSchedule{};
    auto a = make_cpu_backend(1);
    auto b = make_cpu_backend(1);
    test::load(*a, net, scheduled, 16);
    test::load(*b, net, by_hand, 16);
    auto da = a->upload(data.x.data(), data.y.data(), data.rows, data.cols);
    auto db = b->upload(data.x.data(), data.y.data(), data.rows, data.cols);
    for (int64_t step = 0, begin = 0; step < 12; ++step, begin = (begin + 16) % 48) {
      b->set_learning_rate(scheduled_lr(scheduled.schedule, scheduled.learning_rate, step));
      a->train_step(*da, begin, 16, 0);
      b->train_step(*db, begin, 16, 0);
    }
    EXPECT_TRUE(test::bit_identical(test::read_params(*a, net), test::read_params(*b, net)));
    // ... and not what a constant rate gives (the test can fail).
    auto c = make_cpu_backend(1);
    test::load(*c, net, by_hand, 16);
    auto dc = c->upload(data.x.data(), data.y.data(), data.rows, data.cols);
    for (int64_t step = 0, begin = 0; step < 12; ++step, begin = (begin + 16) % 48) c->train_step(*dc, begin, 16, 0);
    EXPECT_FALSE(test::bit_identical(test::read_params(*a, net), test::read_params(*c, net)));
  }
}

// Resume continues the schedule where it stopped: 2 + 2 epochs equal 4, bit
// for bit (the step is restored; the schedule comes from the record).
TEST(LrSchedule, ResumeContinuesTheScheduleBitForBit) {
  for (const char* text : {"exponential:decay_steps=10,decay_rate=0.5", "plateau:factor=0.5,patience=1,min_delta=10"}) {
    SCOPED_TRACE(text);
    test::TempDir dir;
    const Dataset d = test::blobs_problem(400);
    ModelDescription model = blobs_model();
    model.optimizer->schedule = parse_lr_schedule(text);

    auto straight = make_cpu_backend(1);
    Trainer four(*straight, model, test::blobs_train_options(4));
    const TrainResult all = four.fit(d);

    auto first = make_cpu_backend(1);
    TrainOptions o = test::blobs_train_options(2);
    o.save_prefix = (dir / "two").string();
    Trainer two(*first, model, o);
    two.fit(d);

    const BundleReader reader = BundleReader::open(o.save_prefix);
    const auto recorded = read_model_description(reader);
    ASSERT_TRUE(recorded.has_value());
    auto second = make_cpu_backend(1);
    Trainer rest(*second, *recorded, test::blobs_train_options(2));
    rest.resume(reader);
    const TrainResult last = rest.fit(d);
    const TrainingState a = capture_state(*straight, four.table(), 1), b = capture_state(*second, rest.table(), 1);
    EXPECT_EQ(a.params, b.params);
    EXPECT_EQ(a.slots, b.slots);
    EXPECT_EQ(a.scalars.step, b.scalars.step);
    // The reported rate is the one the epoch's last step used.
    ASSERT_EQ(last.epochs.size(), 2u);
    EXPECT_EQ(last.epochs[1].learning_rate, all.epochs[3].learning_rate);
    EXPECT_EQ(last.epochs[0].learning_rate, all.epochs[2].learning_rate);
    if (std::string(text).rfind("plateau", 0) == 0) {
      // No epoch beats the first by min_delta: halved after epochs 2 and 3
      // (the resumed run took the reduced rate and the state from the record).
      EXPECT_EQ(all.epochs[1].learning_rate, 0.05f);
      EXPECT_EQ(all.epochs[2].learning_rate, 0.025f);
      EXPECT_EQ(all.epochs[3].learning_rate, 0.0125f);
    } else {
      EXPECT_FLOAT_EQ(static_cast<float>(all.epochs[3].learning_rate),
                      scheduled_lr(model.optimizer->schedule, model.optimizer->learning_rate, 4 * 13 - 1));
    }
  }
}

}  // namespace
}  // namespace graft
