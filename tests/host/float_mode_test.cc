// The CPU backend computes in TensorFlow's floating-point mode, denormals
// flushed to zero (host/cpu/float_mode.h): the scoped mode itself, a thread
// team's workers running in the caller's mode, and the backend's entry
// points (a denormal logit reads 0, Adam's denormal second moment is 0, as
// in TF) leaving the caller's own mode as it was.
#include "host/cpu/float_mode.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <vector>

#include "host/backend.h"
#include "host/cpu/thread_team.h"

namespace graft {
namespace {

#ifdef GRAFT_HAVE_MXCSR

// 1e-30 * 1e-10 = 1e-40, below FLT_MIN (1.18e-38): a denormal, or 0 flushed.
// volatile: computed at run time, in the current mode.
float denormal_product() {
  volatile float a = 1e-30f, b = 1e-10f;
  return a * b;
}

TEST(FloatMode, ScopedFlushDenormalsFlushesAndRestores) {
  ASSERT_FALSE(cpu::flushes_denormals()) << "the test process starts in the default mode";
  EXPECT_NE(denormal_product(), 0.0f);
  {
    const cpu::ScopedFlushDenormals outer;
    EXPECT_TRUE(cpu::flushes_denormals());
    EXPECT_EQ(denormal_product(), 0.0f);
    volatile float denormal_input = 1e-40f;  // denormals-are-zero: an input reads as 0
    volatile float one = 1.0f;
    EXPECT_EQ(denormal_input * one, 0.0f);
    {
      const cpu::ScopedFlushDenormals inner;
      EXPECT_EQ(denormal_product(), 0.0f);
    }
    EXPECT_TRUE(cpu::flushes_denormals()) << "the inner scope restored the outer's mode";
  }
  EXPECT_FALSE(cpu::flushes_denormals());
  EXPECT_NE(denormal_product(), 0.0f);
}

TEST(FloatMode, TeamPartsRunInTheCallersMode) {
  cpu::ThreadTeam team(3);
  for (bool flush : {true, false, true}) {
    std::unique_ptr<cpu::ScopedFlushDenormals> scope;
    if (flush) scope = std::make_unique<cpu::ScopedFlushDenormals>();
    for (int job = 0; job < 200; ++job) {  // enough jobs that workers run parts
      std::atomic<int> wrong{0};
      team.run([&](int, int) {
        if (cpu::flushes_denormals() != flush || (denormal_product() == 0.0f) != flush) wrong.fetch_add(1);
      });
      ASSERT_EQ(wrong.load(), 0) << "flush " << flush << ", job " << job;
    }
  }
}

// One identity layer of 64 inputs and 3 outputs, on `threads` threads.
std::unique_ptr<Backend> one_layer(int threads, const OptimizerConfig& opt, int64_t max_batch) {
  auto backend = make_cpu_backend(threads);
  DenseLayerShape s;
  s.fan_in = 64;
  s.fan_out = 3;
  s.activation = Activation{ActivationKind::kIdentity};
  backend->build({s}, opt, max_batch);
  return backend;
}

TEST(FloatMode, BackendFlushesADenormalLogitAndLeavesTheCallersMode) {
  // x = 1e-19, W = 1e-20: each product is 1e-39, a denormal; TF flushes it.
  const int64_t rows = 4096, cols = 64;
  for (int threads : {1, 3}) {
    SCOPED_TRACE(threads);
    auto backend = one_layer(threads, OptimizerConfig{}, 512);
    const std::vector<float> w(cols * 3, 1e-20f), b(3, 0.0f);
    backend->write_param(0, w.data());
    backend->write_param(1, b.data());
    const std::vector<float> x(static_cast<std::size_t>(rows * cols), 1e-19f);
    std::vector<float> logits(static_cast<std::size_t>(rows * 3), -1.0f);
    backend->predict_logits(x.data(), rows, cols, logits.data());
    for (std::size_t i = 0; i < logits.size(); ++i) ASSERT_EQ(logits[i], 0.0f) << "logit " << i;
    EXPECT_FALSE(cpu::flushes_denormals()) << "predict_logits left the caller flushing denormals";
  }
}

TEST(FloatMode, AdamsDenormalSecondMomentIsZeroAsInTensorFlow) {
  // Inputs 1e-18: the kernel's gradient is about 1e-18 * |dlogit|, its
  // square times 1 - beta2 = 0.001 lands near 1e-40, a denormal, which TF
  // flushes; the first moment, 0.1 * g, stays normal.
  const int64_t rows = 8, cols = 64;
  for (int threads : {1, 2}) {
    SCOPED_TRACE(threads);
    OptimizerConfig adam;
    adam.kind = OptimizerKind::kAdam;
    auto backend = one_layer(threads, adam, rows);
    const std::vector<float> w(cols * 3, 0.1f), b(3, 0.0f);
    backend->write_param(0, w.data());
    backend->write_param(1, b.data());
    const std::vector<float> x(static_cast<std::size_t>(rows * cols), 1e-18f);
    std::vector<int32_t> labels(rows);
    for (int64_t r = 0; r < rows; ++r) labels[static_cast<std::size_t>(r)] = static_cast<int32_t>(r % 3);
    auto data = backend->upload(x.data(), labels.data(), rows, cols);
    backend->train_step(*data, 0, rows, 0);
    std::vector<float> m(cols * 3), v(cols * 3);
    backend->read_slot(0, 0, m.data());
    backend->read_slot(0, 1, v.data());
    int nonzero_m = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
      ASSERT_EQ(v[i], 0.0f) << "kernel element " << i << ": a denormal second moment survived";
      nonzero_m += m[i] != 0.0f;
    }
    EXPECT_GT(nonzero_m, 0) << "the gradient itself should not vanish";
    EXPECT_FALSE(cpu::flushes_denormals());
  }
}

#else

TEST(FloatMode, NoControlWordHere) {
  GTEST_SKIP() << "denormals are flushed on x86-64 only; this build computes with them";
}

#endif

}  // namespace
}  // namespace graft
