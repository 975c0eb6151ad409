// Each optimizer's update rule (host/model/optimizer_config.h) against values
// worked out by hand, plus clipping by value and the grad_scale used by
// clipping by global norm.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "host/cpu/reference_kernels.h"
#include "host/model/optimizer_config.h"

namespace graft {
namespace {

struct One {
  float w = 1.0f, s0 = 0.0f, s1 = 0.0f;
};

One step(const OptimizerConfig& c, One v, float g, float grad_scale = 1.0f,
         const OptimizerScalars& scalars = OptimizerScalars{}) {
  cpu::optimizer_update(c, scalars, &v.w, &g, &v.s0, &v.s1, 1, grad_scale);
  return v;
}

OptimizerConfig config(OptimizerKind kind, float lr = 0.1f) {
  OptimizerConfig c;
  c.kind = kind;
  c.learning_rate = lr;
  return c;
}

TEST(OptimizerUpdate, Sgd) {
  EXPECT_FLOAT_EQ(step(config(OptimizerKind::kSgd), {}, 0.5f).w, 0.95f);  // 1 - 0.1*0.5
}

TEST(OptimizerUpdate, Momentum) {
  const One out = step(config(OptimizerKind::kMomentum), {1.0f, 0.2f, 0}, 0.5f);
  EXPECT_FLOAT_EQ(out.s0, 0.68f);   // 0.9*0.2 + 0.5
  EXPECT_FLOAT_EQ(out.w, 0.932f);   // 1 - 0.1*0.68
}

TEST(OptimizerUpdate, Nesterov) {
  const One out = step(config(OptimizerKind::kNesterov), {1.0f, 0.2f, 0}, 0.5f);
  EXPECT_FLOAT_EQ(out.s0, 0.68f);
  EXPECT_FLOAT_EQ(out.w, 0.8888f);  // 1 - (0.1*0.5 + 0.1*0.9*0.68)
}

TEST(OptimizerUpdate, Adagrad) {
  OptimizerConfig c = config(OptimizerKind::kAdagrad);
  EXPECT_EQ(optimizer_slot_initial_values(c), std::vector<float>{0.1f});
  const One out = step(c, {1.0f, 0.1f, 0}, 0.5f);
  EXPECT_FLOAT_EQ(out.s0, 0.35f);                                   // 0.1 + 0.25
  EXPECT_NEAR(out.w, 1.0 - 0.1 * 0.5 / std::sqrt(0.35), 1e-7);      // 0.9154846
}

TEST(OptimizerUpdate, RmsProp) {
  OptimizerConfig c = config(OptimizerKind::kRmsProp);
  EXPECT_EQ(optimizer_slot_initial_values(c), (std::vector<float>{1.0f, 0.0f}));
  One out = step(c, {1.0f, 1.0f, 0.0f}, 0.5f);
  EXPECT_FLOAT_EQ(out.s0, 0.925f);  // 0.9*1 + 0.1*0.25
  const double mom = 0.1 * 0.5 / std::sqrt(0.925 + 1e-10);
  EXPECT_NEAR(out.s1, mom, 1e-7);
  EXPECT_NEAR(out.w, 1.0 - mom, 1e-7);
  c.rmsprop_momentum = 0.5f;
  out = step(c, {1.0f, 1.0f, 0.2f}, 0.5f);
  EXPECT_NEAR(out.s1, 0.1 + mom, 1e-7);
  EXPECT_NEAR(out.w, 1.0 - (0.1 + mom), 1e-7);
}

TEST(OptimizerUpdate, AdamUsesBetaPowersAsGiven) {
  const OptimizerConfig c = config(OptimizerKind::kAdam);
  // First step (b1^1, b2^1): the update is lr * g / |g| up to epsilon.
  One out = step(c, {}, 0.5f);
  // Tolerances: 1 - b1 and 1 - b2 are computed in float, as in TF
  // (1 - 0.999f = 0.001 * (1 - 1.3e-5)).
  EXPECT_NEAR(out.s0, 0.05, 2e-8);
  EXPECT_NEAR(out.s1, 0.00025, 0.00025 * 2e-5);
  EXPECT_NEAR(out.w, 0.9, 1e-6);
  // A later step with hand-chosen state.
  OptimizerScalars later;
  later.beta1_power = 0.9f * 0.9f * 0.9f;
  later.beta2_power = 0.999f * 0.999f * 0.999f;
  out = step(c, {2.0f, 0.3f, 0.04f}, -1.0f, 1.0f, later);
  const double m = 0.9 * 0.3 + 0.1 * -1.0, v = 0.999 * 0.04 + 0.001 * 1.0;
  const double lr_t = 0.1 * std::sqrt(1 - std::pow(0.999, 3)) / (1 - std::pow(0.9, 3));
  EXPECT_NEAR(out.s0, m, 1e-7);
  EXPECT_NEAR(out.s1, v, 1e-7);
  EXPECT_NEAR(out.w, 2.0 - lr_t * m / (std::sqrt(v) + 1e-8), 1e-6);
}

TEST(OptimizerUpdate, ClipByValueAndScale) {
  OptimizerConfig c = config(OptimizerKind::kSgd, 1.0f);
  c.clip_value = 0.3f;
  EXPECT_FLOAT_EQ(step(c, {}, 0.5f).w, 0.7f);     // g clipped to 0.3
  EXPECT_FLOAT_EQ(step(c, {}, -2.0f).w, 1.3f);    // g clipped to -0.3
  EXPECT_FLOAT_EQ(step(c, {}, 0.2f).w, 0.8f);     // inside the range
  EXPECT_FLOAT_EQ(step(c, {}, 0.5f, 0.5f).w, 0.75f);  // scaled first: 0.25 < 0.3
  c.clip_value = 0.0f;
  EXPECT_FLOAT_EQ(step(c, {}, 5.0f, 0.1f).w, 0.5f);   // global-norm scale only
  // Clipping happens before the rule's state update.
  OptimizerConfig m = config(OptimizerKind::kMomentum);
  m.clip_value = 0.3f;
  EXPECT_FLOAT_EQ(step(m, {}, 5.0f).s0, 0.3f);
}

TEST(OptimizerConfigNames, SlotsAndParsing) {
  EXPECT_TRUE(optimizer_slot_suffixes(OptimizerKind::kSgd).empty());
  EXPECT_EQ(optimizer_slot_suffixes(OptimizerKind::kNesterov), std::vector<std::string>{"Momentum"});
  EXPECT_EQ(optimizer_slot_suffixes(OptimizerKind::kRmsProp), (std::vector<std::string>{"RMSProp", "RMSProp_1"}));
  EXPECT_EQ(optimizer_slot_suffixes(OptimizerKind::kAdam), (std::vector<std::string>{"Adam", "Adam_1"}));
  for (auto k : {OptimizerKind::kSgd, OptimizerKind::kMomentum, OptimizerKind::kNesterov, OptimizerKind::kAdagrad,
                 OptimizerKind::kRmsProp, OptimizerKind::kAdam}) {
    EXPECT_EQ(parse_optimizer(optimizer_name(k)), k);
    EXPECT_EQ(optimizer_slot_initial_values(config(k)).size(), optimizer_slot_suffixes(k).size());
  }
  EXPECT_FALSE(parse_optimizer("adamw"));
}

}  // namespace
}  // namespace graft
