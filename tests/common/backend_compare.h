#pragma once
// Running two backends side by side and comparing what they hold: the
// helpers of the backend parity suites (tests/cuda/, tests/fused/).
// Templates over the backend type, so they take a graft::Backend or the
// fused-step emulator alike (anything with num_params/read_param/...).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "host/backend.h"
#include "tests/common/small_net.h"
#include "tests/common/tolerance.h"

namespace graft::test {

template <typename B>
void load(B& b, const Net& net, const OptimizerConfig& config, int64_t max_batch) {
  b.build(net.layers, config, max_batch);
  for (int i = 0; i < b.num_params(); ++i) b.write_param(i, net.params[i].data());
}

template <typename B>
std::vector<std::vector<float>> read_params(B& b, const Net& net) {
  std::vector<std::vector<float>> out;
  for (int i = 0; i < b.num_params(); ++i) {
    std::vector<float> v(net.params[i].size());
    b.read_param(i, v.data());
    out.push_back(std::move(v));
  }
  return out;
}

template <typename B>
std::vector<std::vector<float>> read_slots(B& b, const Net& net, int num_slots) {
  std::vector<std::vector<float>> out;
  for (int i = 0; i < b.num_params(); ++i) {
    for (int k = 0; k < num_slots; ++k) {
      std::vector<float> v(net.params[i].size());
      b.read_slot(i, k, v.data());
      out.push_back(std::move(v));
    }
  }
  return out;
}

// The trainer's loop: shuffle per epoch, begin = 0, n, 2n, ..., a shorter
// last batch. Returns each epoch's totals.
inline std::vector<EpochTotals> train(Backend& b, DeviceDataset& data, int64_t batch, int epochs,
                                      int first_layer, uint64_t seed) {
  std::vector<EpochTotals> totals;
  for (int e = 0; e < epochs; ++e) {
    b.shuffle(data, seed, static_cast<uint64_t>(e));
    for (int64_t begin = 0; begin < data.rows(); begin += batch) {
      b.train_step(data, begin, std::min(batch, data.rows() - begin), first_layer);
    }
    totals.push_back(b.take_train_totals());
  }
  return totals;
}

inline ::testing::AssertionResult params_close(const std::vector<std::vector<float>>& a,
                                               const std::vector<std::vector<float>>& ref,
                                               double atol, double rtol) {
  if (a.size() != ref.size()) return ::testing::AssertionFailure() << "tensor count differs";
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto r = all_close(a[i], ref[i], atol, rtol);
    if (!r) return ::testing::AssertionFailure() << "tensor " << i << ": " << r.message();
  }
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult bit_identical(const std::vector<std::vector<float>>& a,
                                                const std::vector<std::vector<float>>& b) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << "tensor count differs";
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].size() != b[i].size() ||
        std::memcmp(a[i].data(), b[i].data(), a[i].size() * sizeof(float)) != 0) {
      double worst = 0.0;
      for (std::size_t k = 0; k < a[i].size() && k < b[i].size(); ++k) {
        worst = std::max(worst, std::fabs(static_cast<double>(a[i][k]) - b[i][k]));
      }
      return ::testing::AssertionFailure() << "tensor " << i << " differs (max |diff| " << worst << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

// The grid of the "every optimizer" tests: each of the six optimizers with
// no clipping, clipping by value (0.02) and, when asked, clipping by global
// norm (0.1); the two hidden activations cycle through the six non-identity
// ones. Each variant has its own weight seed.
struct OptimizerVariant {
  OptimizerConfig config;
  Activation hidden[2];
  uint32_t seed = 0;
  std::string name;  // for SCOPED_TRACE
};

inline std::vector<OptimizerVariant> optimizer_variants(bool with_global_norm) {
  const Activation pairs[3][2] = {{{ActivationKind::kRelu, 0.2f}, {ActivationKind::kTanh, 0.2f}},
                                  {{ActivationKind::kElu, 0.2f}, {ActivationKind::kSigmoid, 0.2f}},
                                  {{ActivationKind::kSelu, 0.2f}, {ActivationKind::kLeakyRelu, 0.1f}}};
  std::vector<OptimizerVariant> out;
  int variant = 0;
  for (OptimizerKind kind : {OptimizerKind::kSgd, OptimizerKind::kMomentum, OptimizerKind::kNesterov,
                             OptimizerKind::kAdagrad, OptimizerKind::kRmsProp, OptimizerKind::kAdam}) {
    for (int clip = 0; clip < (with_global_norm ? 3 : 2); ++clip) {
      OptimizerVariant v;
      const auto& acts = pairs[variant++ % 3];
      v.hidden[0] = acts[0];
      v.hidden[1] = acts[1];
      v.seed = static_cast<uint32_t>(100 + variant);
      v.config.kind = kind;
      v.config.learning_rate = kind == OptimizerKind::kAdam ? 0.01f : 0.05f;
      v.config.rmsprop_momentum = 0.3f;
      if (clip == 1) v.config.clip_value = 0.02f;
      if (clip == 2) v.config.clip_norm = 0.1f;
      v.name = optimizer_name(kind) + " clip_value=" + std::to_string(v.config.clip_value) +
               " clip_norm=" + std::to_string(v.config.clip_norm) + " activations " +
               activation_name(acts[0]) + "," + activation_name(acts[1]);
      out.push_back(v);
    }
  }
  return out;
}

// global_step and Adam's powers.
template <typename A, typename B>
void expect_scalars_equal(A& a, B& b) {
  const OptimizerScalars sa = a.read_scalars(), sb = b.read_scalars();
  EXPECT_EQ(sa.step, sb.step);
  EXPECT_FLOAT_EQ(sa.beta1_power, sb.beta1_power);
  EXPECT_FLOAT_EQ(sa.beta2_power, sb.beta2_power);
}

inline void expect_totals_close(const EpochTotals& a, const EpochTotals& ref, double rtol,
                                int64_t max_hit_diff) {
  EXPECT_EQ(a.samples, ref.samples);
  EXPECT_NEAR(a.loss_sum, ref.loss_sum, rtol * std::fabs(ref.loss_sum) + 1e-9);
  EXPECT_LE(std::llabs(a.correct - ref.correct), max_hit_diff) << a.correct << " vs " << ref.correct;
}

}  // namespace graft::test
