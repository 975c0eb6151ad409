// Every instruction-set build of the element-wise kernels (host/cpu/
// elementwise_variants.h) gives the baseline's bits: bias + activation, its
// backward with the bias gradient, and every optimizer's update (clipping
// by value on and off, a global-norm scale, a schedule), on sizes around
// the vector widths; and the public kernels run the chosen build.
#include "host/cpu/elementwise_variants.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "checkpoint/error.h"
#include "host/cpu/reference_kernels.h"
#include "tests/common/small_net.h"

namespace graft {
namespace {

namespace ev = cpu::elementwise_variants;

using test::uniform_floats;

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

const int64_t kSizes[] = {1, 3, 7, 8, 9, 15, 16, 17, 300, 1001};

TEST(ElementwiseVariants, ActivationsGiveTheBaselinesBits) {
  int checked = 0;
  for (int v = 1; v < ev::count(); ++v) {
    if (!ev::supported(v)) continue;
    ++checked;
    for (int64_t cols : kSizes) {
      for (int k = 0; k < 7; ++k) {
        Activation act{static_cast<ActivationKind>(k)};
        act.alpha = 0.2f;
        SCOPED_TRACE(::testing::Message() << ev::name(v) << " cols " << cols << " " << activation_name(act));
        const int64_t rows = 5;
        std::vector<float> x = uniform_floats(static_cast<std::size_t>(rows * cols), -3.0f, 3.0f,
                                       static_cast<uint32_t>(cols * 7 + k));
        x[0] = std::numeric_limits<float>::quiet_NaN();  // NaN and infinities pass through alike
        if (x.size() > 2) x[2] = std::numeric_limits<float>::infinity();
        const std::vector<float> bias = uniform_floats(static_cast<std::size_t>(cols), -0.5f, 0.5f, 2);
        const std::vector<float> dy = uniform_floats(x.size(), -1.0f, 1.0f, 3);
        auto run = [&](int variant, std::vector<float>* y, std::vector<float>* g, std::vector<float>* bg) {
          *y = x;
          ev::bias_activation_forward(variant, y->data(), bias.data(), rows, cols, act);
          *g = dy;
          bg->assign(static_cast<std::size_t>(cols), 123.0f);  // overwritten, not accumulated
          ev::activation_backward_bias_grad(variant, g->data(), y->data(), bg->data(), rows, cols, act);
        };
        std::vector<float> y0, g0, bg0, y1, g1, bg1;
        run(0, &y0, &g0, &bg0);
        run(v, &y1, &g1, &bg1);
        EXPECT_TRUE(same_bits(y1, y0));
        EXPECT_TRUE(same_bits(g1, g0));
        EXPECT_TRUE(same_bits(bg1, bg0));
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "this CPU runs only the baseline build";
}

TEST(ElementwiseVariants, OptimizerUpdatesGiveTheBaselinesBits) {
  int checked = 0;
  const OptimizerKind kinds[] = {OptimizerKind::kSgd,     OptimizerKind::kMomentum, OptimizerKind::kNesterov,
                                 OptimizerKind::kAdagrad, OptimizerKind::kRmsProp,  OptimizerKind::kAdam};
  for (int v = 1; v < ev::count(); ++v) {
    if (!ev::supported(v)) continue;
    ++checked;
    for (OptimizerKind kind : kinds) {
      for (float clip : {0.0f, 0.5f}) {
        for (float scale : {1.0f, 0.37f}) {
          for (int64_t n : kSizes) {
            SCOPED_TRACE(::testing::Message() << ev::name(v) << " " << optimizer_name(kind) << " clip " << clip
                                              << " scale " << scale << " n " << n);
            OptimizerConfig config;
            config.kind = kind;
            config.learning_rate = 0.05f;
            config.clip_value = clip;
            config.rmsprop_momentum = 0.9f;
            config.schedule.kind = math::LrScheduleKind::kExponential;  // a step-dependent rate
            config.schedule.decay_steps = 10;
            config.schedule.decay_rate = 0.5f;
            OptimizerScalars scalars;
            scalars.step = 7;
            scalars.beta1_power = 0.9f * 0.9f;
            scalars.beta2_power = 0.999f * 0.999f;
            std::vector<float> g =
                uniform_floats(static_cast<std::size_t>(n), -2.0f, 2.0f, static_cast<uint32_t>(n));
            g[0] = std::numeric_limits<float>::quiet_NaN();  // a NaN gradient stays NaN either way
            const std::vector<float> w = uniform_floats(g.size(), -1.0f, 1.0f, 5);
            const std::vector<float> s0 = uniform_floats(g.size(), 0.01f, 1.0f, 6);
            const std::vector<float> s1 = uniform_floats(g.size(), 0.01f, 1.0f, 7);
            struct State {
              std::vector<float> w, s0, s1;
            };
            auto run = [&](int variant) {
              State st{w, s0, s1};
              for (int step = 0; step < 3; ++step) {  // the slots carry into the next update
                ev::optimizer_update(variant, config, scalars, st.w.data(), g.data(), st.s0.data(), st.s1.data(), n,
                                     scale);
              }
              return st;
            };
            const State want = run(0), got = run(v);
            EXPECT_TRUE(same_bits(got.w, want.w));
            EXPECT_TRUE(same_bits(got.s0, want.s0));
            EXPECT_TRUE(same_bits(got.s1, want.s1));
          }
        }
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "this CPU runs only the baseline build";
}

TEST(ElementwiseVariants, PublicKernelsRunTheChosenBuildAndBadVariantsThrow) {
  ASSERT_TRUE(ev::supported(ev::chosen()));
  const int64_t rows = 3, cols = 11;
  const std::vector<float> x = uniform_floats(rows * cols, -2.0f, 2.0f, 9);
  const std::vector<float> bias = uniform_floats(cols, -1.0f, 1.0f, 10);
  std::vector<float> a = x, b = x;
  const Activation relu{ActivationKind::kRelu};
  cpu::bias_activation_forward(a.data(), bias.data(), rows, cols, relu);
  ev::bias_activation_forward(ev::chosen(), b.data(), bias.data(), rows, cols, relu);
  EXPECT_TRUE(same_bits(a, b));
  EXPECT_FALSE(ev::supported(-1));
  EXPECT_FALSE(ev::supported(ev::count()));
  EXPECT_THROW(ev::bias_activation_forward(ev::count(), a.data(), bias.data(), rows, cols, relu), Error);
  EXPECT_THROW(ev::optimizer_update(99, OptimizerConfig{}, OptimizerScalars{}, nullptr, nullptr, nullptr, nullptr, 0,
                                    1.0f),
               Error);
}

}  // namespace
}  // namespace graft
