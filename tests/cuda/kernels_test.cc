// Each CUDA kernel family against its CPU twin (host/cpu/reference_kernels.h)
// on random data, odd shapes (columns 1, 7, 33, 300, 1000; rows 1, 13, 50,
// 257) and every activation / optimizer.
//
// Tolerances (|gpu - cpu| <= atol + rtol*|cpu|), and why:
//   elementwise (bias+activation, activation gradient): atol 1e-6, rtol 1e-5.
//     Same operation order and no FMA contraction (-fmad=false) on both
//     sides; only expf/tanhf differ (CUDA: <= 2 ulp, glibc: < 1 ulp), a few
//     ulps (~4e-7 relative; 1e-7 absolute where exp(x) - 1 cancels).
//   bias gradient (a column sum over up to 257 rows): atol 1e-4, rtol 1e-5.
//     Different summation order (blocked on the GPU, sequential on the CPU);
//     float rounding of a sum of |terms| <= ~3 grows like sqrt(rows) ulps of
//     the partial sums: ~1e-5 here, with 10x headroom.
//   softmax gradient: atol 1e-6, rtol 1e-5 (expf ulps, sum order of <= 1000
//     exponentials); loss sum: 1e-6 per row + 1e-6 relative; hits: exact
//     (both compare the same logits, no arithmetic).
//   optimizer updates: atol 1e-6, rtol 1e-5 after 3 steps. The same float
//     operations in the same order; sqrtf and division are correctly rounded
//     on both, so the results are normally bit-identical; the slack covers
//     any compiler reassociation.
//   global norm: sum of squares rtol 1e-6 (double on the GPU vs float lanes
//     folded into double on the CPU).
//   gather, shuffle: exact.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "cuda/device_state.h"
#include "cuda/kernels.h"
#include "host/cpu/reference_kernels.h"
#include "host/data/shuffle_key.h"
#include "tests/common/tolerance.h"
#include "tests/cuda/gpu_test_util.h"

namespace graft {
namespace {

using test::all_close;
using test::DeviceArray;
using test::random_floats;
using test::random_labels;

const std::vector<int64_t> kRows = {1, 13, 50, 257};
const std::vector<int64_t> kCols = {1, 7, 33, 300, 1000};

std::vector<Activation> all_activations() {
  return {{ActivationKind::kIdentity, 0.2f}, {ActivationKind::kRelu, 0.2f},
          {ActivationKind::kElu, 0.2f},      {ActivationKind::kSelu, 0.2f},
          {ActivationKind::kLeakyRelu, 0.2f}, {ActivationKind::kLeakyRelu, 0.01f},
          {ActivationKind::kTanh, 0.2f},     {ActivationKind::kSigmoid, 0.2f}};
}

std::string trace(const Activation& a, int64_t rows, int64_t cols) {
  return activation_name(a) + " alpha=" + std::to_string(a.alpha) + " rows=" +
         std::to_string(rows) + " cols=" + std::to_string(cols);
}

// ---------------------------------------------------------------------------
TEST(CudaKernels, BiasActivationForwardMatchesCpu) {
  GRAFT_REQUIRE_CUDA();
  uint32_t seed = 1;
  for (const Activation& act : all_activations()) {
    for (int64_t rows : kRows) {
      for (int64_t cols : kCols) {
        SCOPED_TRACE(trace(act, rows, cols));
        const auto y = random_floats(rows * cols, -4.0f, 4.0f, seed++);
        const auto bias = random_floats(cols, -1.0f, 1.0f, seed++);
        DeviceArray<float> dy(y), db(bias);
        cuda::bias_activation_forward(dy.get(), db.get(), rows, cols, act, nullptr);
        std::vector<float> ref = y;
        cpu::bias_activation_forward(ref.data(), bias.data(), rows, cols, act);
        EXPECT_TRUE(all_close(dy.to_host(), ref, 1e-6, 1e-5));
      }
    }
  }
}

TEST(CudaKernels, ActivationBackwardBiasGradMatchesCpu) {
  GRAFT_REQUIRE_CUDA();
  const int64_t max_cols = 1000;
  DeviceArray<float> partials(static_cast<std::size_t>(cuda::bias_grad_partials_size(max_cols)));
  DeviceArray<unsigned> arrivals(static_cast<std::size_t>(cuda::bias_grad_arrivals_size(max_cols)), 0u);
  const cuda::BiasGradWorkspace ws{partials.get(), arrivals.get(), max_cols};
  uint32_t seed = 100;
  for (const Activation& act : all_activations()) {
    for (int64_t rows : kRows) {
      for (int64_t cols : kCols) {
        SCOPED_TRACE(trace(act, rows, cols));
        // y is a real output of the activation (e.g. in (0, 1) for sigmoid).
        std::vector<float> y = random_floats(rows * cols, -3.0f, 3.0f, seed++);
        const std::vector<float> zero_bias(cols, 0.0f);
        cpu::bias_activation_forward(y.data(), zero_bias.data(), rows, cols, act);
        const auto grad = random_floats(rows * cols, -1.0f, 1.0f, seed++);
        DeviceArray<float> dgrad(grad), dy(y), dbias(cols, -123.0f);
        cuda::activation_backward_bias_grad(dgrad.get(), dy.get(), dbias.get(), rows, cols, act, ws,
                                            nullptr);
        std::vector<float> ref_grad = grad, ref_bias(cols, -7.0f);
        cpu::activation_backward_bias_grad(ref_grad.data(), y.data(), ref_bias.data(), rows, cols, act);
        EXPECT_TRUE(all_close(dgrad.to_host(), ref_grad, 1e-6, 1e-5));
        EXPECT_TRUE(all_close(dbias.to_host(), ref_bias, 1e-4, 1e-5));
      }
    }
  }
  // The arrival counters are left at zero for the next launch.
  for (unsigned a : arrivals.to_host()) EXPECT_EQ(a, 0u);
}

TEST(CudaKernels, BiasGradIsDeterministic) {
  GRAFT_REQUIRE_CUDA();
  const int64_t rows = 4096, cols = 300;
  DeviceArray<float> partials(static_cast<std::size_t>(cuda::bias_grad_partials_size(cols)));
  DeviceArray<unsigned> arrivals(static_cast<std::size_t>(cuda::bias_grad_arrivals_size(cols)), 0u);
  const cuda::BiasGradWorkspace ws{partials.get(), arrivals.get(), cols};
  const auto grad = random_floats(rows * cols, -1.0f, 1.0f, 7);
  const Activation identity{ActivationKind::kIdentity, 0.2f};
  std::vector<float> first;
  for (int run = 0; run < 5; ++run) {
    DeviceArray<float> dgrad(grad), dbias(cols);
    cuda::activation_backward_bias_grad(dgrad.get(), nullptr, dbias.get(), rows, cols, identity, ws,
                                        nullptr);
    const auto got = dbias.to_host();
    if (run == 0) {
      first = got;
      std::vector<float> g = grad, unused_y(grad.size(), 0.0f), ref(cols);
      cpu::activation_backward_bias_grad(g.data(), unused_y.data(), ref.data(), rows, cols, identity);
      EXPECT_TRUE(all_close(got, ref, 1e-3, 1e-5));  // 4096-row sums
    } else {
      EXPECT_EQ(0, std::memcmp(got.data(), first.data(), cols * sizeof(float))) << "run " << run;
    }
  }
}

// ---------------------------------------------------------------------------
struct XentResult {
  std::vector<float> dlogits;
  double loss = 0.0;
  long long correct = 0;
};

XentResult gpu_xent(const std::vector<float>& logits, const std::vector<int32_t>& labels,
                    int64_t rows, int64_t classes, float scale, bool with_grad) {
  DeviceArray<float> dl(logits), dd(rows * classes, 0.0f);
  DeviceArray<int32_t> dlab(labels);
  const int64_t blocks = cuda::xent_max_blocks(rows);
  DeviceArray<double> lp(blocks);
  DeviceArray<long long> cp(blocks);
  DeviceArray<cuda::DeviceState> state(1);
  const cuda::XentWorkspace ws{lp.get(), cp.get(), rows};
  cuda::DeviceState* st = state.get();
  cuda::softmax_xent(dl.get(), dlab.get(), with_grad ? dd.get() : nullptr, rows, classes, scale,
                     &st->train, &st->xent_arrivals, ws, nullptr);
  const cuda::DeviceState h = state.to_host()[0];
  EXPECT_EQ(h.xent_arrivals, 0u);
  return {dd.to_host(), h.train.loss_sum, h.train.correct};
}

TEST(CudaKernels, SoftmaxXentMatchesCpu) {
  GRAFT_REQUIRE_CUDA();
  uint32_t seed = 200;
  for (int64_t rows : kRows) {
    for (int64_t classes : {int64_t{1}, int64_t{7}, int64_t{10}, int64_t{33}, int64_t{300}, int64_t{1000}}) {
      SCOPED_TRACE("rows=" + std::to_string(rows) + " classes=" + std::to_string(classes));
      const auto logits = random_floats(rows * classes, -6.0f, 6.0f, seed++);
      const auto labels = random_labels(rows, static_cast<int32_t>(classes), seed++);
      for (float scale : {1.0f, 1.0f / static_cast<float>(rows)}) {
        const XentResult got = gpu_xent(logits, labels, rows, classes, scale, true);
        std::vector<float> ref(rows * classes);
        double ref_loss = 0.0;
        int64_t ref_correct = 0;
        cpu::softmax_xent(logits.data(), labels.data(), ref.data(), rows, classes, scale, &ref_loss,
                          &ref_correct);
        EXPECT_TRUE(all_close(got.dlogits, ref, 1e-6, 1e-5));
        EXPECT_NEAR(got.loss, ref_loss, 1e-6 * rows + 1e-6 * std::fabs(ref_loss));
        EXPECT_EQ(got.correct, ref_correct);
      }
      // Evaluation mode: no gradient, same totals.
      const XentResult eval = gpu_xent(logits, labels, rows, classes, 1.0f, false);
      double ref_loss = 0.0;
      int64_t ref_correct = 0;
      cpu::softmax_xent(logits.data(), labels.data(), nullptr, rows, classes, 1.0f, &ref_loss,
                        &ref_correct);
      EXPECT_NEAR(eval.loss, ref_loss, 1e-6 * rows + 1e-6 * std::fabs(ref_loss));
      EXPECT_EQ(eval.correct, ref_correct);
    }
  }
}

TEST(CudaKernels, SoftmaxXentTiesNonFiniteAndBadLabels) {
  GRAFT_REQUIRE_CUDA();
  const int64_t classes = 5;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  // row 0: tie between the label and another class -> hit (in_top_k)
  // row 1: label strictly below the max -> miss
  // row 2: a NaN logit -> miss
  // row 3: an infinite logit -> miss
  // row 4: clear hit
  const std::vector<float> logits = {1, 3, 3, 0, 2,   5, 1, 4, 0, 0,   1, nan, 2, 0, 0,
                                     1, 2, inf, 0, 0,  0, 0, 0, 9, 1};
  const std::vector<int32_t> labels = {2, 2, 2, 0, 3};
  XentResult got = gpu_xent(logits, labels, 5, classes, 1.0f, false);
  double ref_loss = 0.0;
  int64_t ref_correct = 0;
  cpu::softmax_xent(logits.data(), labels.data(), nullptr, 5, classes, 1.0f, &ref_loss, &ref_correct);
  EXPECT_EQ(got.correct, 2);
  EXPECT_EQ(got.correct, ref_correct);

  // A label outside [0, classes): loss +inf, no hit.
  const std::vector<float> ok_logits = {0, 1, 2, 3, 4};
  for (int32_t bad : {-1, 5}) {
    got = gpu_xent(ok_logits, {bad}, 1, classes, 1.0f, false);
    EXPECT_TRUE(std::isinf(got.loss) && got.loss > 0) << "label " << bad << " loss " << got.loss;
    EXPECT_EQ(got.correct, 0);
  }
}

TEST(CudaKernels, SoftmaxXentAccumulatesDeterministically) {
  GRAFT_REQUIRE_CUDA();
  const int64_t rows = 4096, classes = 10;
  const auto logits = random_floats(rows * classes, -5.0f, 5.0f, 31);
  const auto labels = random_labels(rows, classes, 32);
  DeviceArray<float> dl(logits), dd(rows * classes);
  DeviceArray<int32_t> dlab(labels);
  const int64_t blocks = cuda::xent_max_blocks(rows);
  DeviceArray<double> lp(blocks);
  DeviceArray<long long> cp(blocks);
  DeviceArray<cuda::DeviceState> state(1);
  const cuda::XentWorkspace ws{lp.get(), cp.get(), rows};
  cuda::DeviceState* st = state.get();
  std::vector<double> after;
  for (int k = 0; k < 3; ++k) {
    cuda::softmax_xent(dl.get(), dlab.get(), dd.get(), rows, classes, 1.0f / rows, &st->train,
                       &st->xent_arrivals, ws, nullptr);
    after.push_back(state.to_host()[0].train.loss_sum);
  }
  // Each launch adds the same (bit-identical) batch total.
  EXPECT_EQ(after[1] - after[0], after[0]);
  EXPECT_EQ(after[2], after[0] + after[0] + after[0]);
  EXPECT_EQ(state.to_host()[0].train.correct % 3, 0);
}

// ---------------------------------------------------------------------------
TEST(CudaKernels, GatherRowsMatchesCpu) {
  GRAFT_REQUIRE_CUDA();
  uint32_t seed = 300;
  const int64_t src_rows = 301;
  for (int64_t n : kRows) {
    for (int64_t cols : {int64_t{1}, int64_t{7}, int64_t{33}, int64_t{300}, int64_t{784}, int64_t{1000}}) {
      SCOPED_TRACE("n=" + std::to_string(n) + " cols=" + std::to_string(cols));
      const auto src = random_floats(src_rows * cols, -1.0f, 1.0f, seed++);
      std::vector<uint32_t> index(n);
      std::mt19937 rng(seed++);
      for (auto& i : index) i = static_cast<uint32_t>(rng() % src_rows);  // repeats allowed
      DeviceArray<float> dsrc(src), dout(n * cols);
      DeviceArray<uint32_t> didx(index);
      cuda::gather_rows(dsrc.get(), didx.get(), dout.get(), n, cols, nullptr);
      std::vector<float> ref(n * cols);
      cpu::gather_rows(src.data(), index.data(), ref.data(), n, cols);
      const auto got = dout.to_host();
      EXPECT_EQ(0, std::memcmp(got.data(), ref.data(), ref.size() * sizeof(float)));
    }
  }
}

TEST(CudaKernels, GatherBatchWithOffsetAndLabels) {
  GRAFT_REQUIRE_CUDA();
  const int64_t rows = 257, cols = 784, begin = 100, n = 50;
  const auto features = random_floats(rows * cols, 0.0f, 1.0f, 5);
  const auto labels = random_labels(rows, 10, 6);
  std::vector<uint32_t> order(rows);
  std::iota(order.begin(), order.end(), 0u);
  std::mt19937 rng(7);
  std::shuffle(order.begin(), order.end(), rng);
  DeviceArray<float> df(features), dout(n * cols);
  DeviceArray<int32_t> dl(labels), dlout(n);
  DeviceArray<uint32_t> dorder(order);
  cuda::GatherArgs a;
  a.features = df.get();
  a.labels = dl.get();
  a.order = dorder.get();
  a.begin = begin;
  a.n = n;
  a.cols = cols;
  a.out = dout.get();
  a.labels_out = dlout.get();
  cuda::gather_batch(a, nullptr);
  std::vector<float> ref(n * cols);
  cpu::gather_rows(features.data(), order.data() + begin, ref.data(), n, cols);
  const auto got = dout.to_host();
  EXPECT_EQ(0, std::memcmp(got.data(), ref.data(), ref.size() * sizeof(float)));
  const auto got_labels = dlout.to_host();
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(got_labels[i], labels[order[begin + i]]) << i;
}

// ---------------------------------------------------------------------------
std::vector<uint32_t> cpu_shuffle(int64_t rows, uint64_t seed, uint64_t epoch) {
  std::vector<uint64_t> keys(rows);
  for (int64_t i = 0; i < rows; ++i) keys[i] = shuffle_key(seed, epoch, static_cast<uint64_t>(i));
  std::vector<uint32_t> order(rows);
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return keys[a] < keys[b]; });
  return order;
}

TEST(CudaKernels, ShuffleMatchesCpuExactly) {
  GRAFT_REQUIRE_CUDA();
  for (int64_t rows : {int64_t{1}, int64_t{2}, int64_t{13}, int64_t{1000}, int64_t{55000}}) {
    cuda::ShuffleWorkspace ws;
    DeviceArray<uint32_t> order(rows, 0u);
    for (uint64_t seed : {uint64_t{0}, uint64_t{42}}) {
      for (uint64_t epoch : {uint64_t{0}, uint64_t{1}, uint64_t{7}}) {
        SCOPED_TRACE("rows=" + std::to_string(rows) + " seed=" + std::to_string(seed) +
                     " epoch=" + std::to_string(epoch));
        cuda::shuffle_order(order.get(), rows, seed, epoch, ws, nullptr);
        EXPECT_EQ(order.to_host(), cpu_shuffle(rows, seed, epoch));
      }
    }
  }
}

TEST(CudaKernels, IdentityOrder) {
  GRAFT_REQUIRE_CUDA();
  DeviceArray<uint32_t> order(1001, 7u);
  cuda::identity_order(order.get(), 1001, nullptr);
  const auto got = order.to_host();
  for (uint32_t i = 0; i < 1001; ++i) EXPECT_EQ(got[i], i);
}

// ---------------------------------------------------------------------------
// Several tensors in one flat buffer with 64-element alignment gaps, like the
// backend's layout.
struct FlatLayout {
  std::vector<int64_t> offset, count;
  int64_t size = 0;
  explicit FlatLayout(const std::vector<int64_t>& counts) : count(counts) {
    for (int64_t c : counts) {
      offset.push_back(size);
      size = (size + c + 63) / 64 * 64;
    }
  }
  std::vector<std::pair<int64_t, int64_t>> ranges() const {
    std::vector<std::pair<int64_t, int64_t>> r;
    for (std::size_t i = 0; i < count.size(); ++i) r.emplace_back(offset[i], count[i]);
    return r;
  }
};

TEST(CudaKernels, UpdateChunksCoverRanges) {
  const auto chunks = cuda::make_update_chunks({{0, 1}, {64, 4096}, {4160, 4097}, {9000, 0}});
  ASSERT_EQ(chunks.size(), 4u);
  EXPECT_EQ(chunks[0].offset, 0);
  EXPECT_EQ(chunks[0].count, 1);
  EXPECT_EQ(chunks[1].offset, 64);
  EXPECT_EQ(chunks[1].count, 4096);
  EXPECT_EQ(chunks[2].offset, 4160);
  EXPECT_EQ(chunks[2].count, 4096);
  EXPECT_EQ(chunks[3].offset, 4160 + 4096);
  EXPECT_EQ(chunks[3].count, 1);
}

std::string kind_name(OptimizerKind k) { return optimizer_name(k); }

TEST(CudaKernels, OptimizerUpdateMatchesCpu) {
  GRAFT_REQUIRE_CUDA();
  const FlatLayout layout({1, 7, 33, 300, 1000, 4097, 9000});
  const auto chunks = cuda::make_update_chunks(layout.ranges());
  DeviceArray<cuda::UpdateChunk> dchunks(chunks);
  uint32_t seed = 400;
  for (OptimizerKind kind : {OptimizerKind::kSgd, OptimizerKind::kMomentum, OptimizerKind::kNesterov,
                             OptimizerKind::kAdagrad, OptimizerKind::kRmsProp, OptimizerKind::kAdam}) {
    for (float clip_value : {0.0f, 0.05f}) {
      for (bool scaled : {false, true}) {
        SCOPED_TRACE(kind_name(kind) + " clip_value=" + std::to_string(clip_value) +
                     (scaled ? " grad_scale=0.37" : " no grad_scale"));
        OptimizerConfig config;
        config.kind = kind;
        config.learning_rate = 0.01f;
        config.clip_value = clip_value;
        config.rmsprop_momentum = 0.5f;  // exercise the momentum term
        const std::vector<float> init = optimizer_slot_initial_values(config);
        const int num_slots = static_cast<int>(init.size());
        std::vector<float> w = random_floats(layout.size, -1.0f, 1.0f, seed++);
        std::vector<float> s0(layout.size, num_slots > 0 ? init[0] : 0.0f);
        std::vector<float> s1(layout.size, num_slots > 1 ? init[1] : 0.0f);
        DeviceArray<float> dw(w), ds0(s0), ds1(s1);
        DeviceArray<float> dscale(1, 0.37f);
        cuda::DeviceState st0{};
        st0.beta1_power = config.beta1;
        st0.beta2_power = config.beta2;
        st0.learning_rate = config.learning_rate;  // the kernels read it from the state
        DeviceArray<cuda::DeviceState> state(std::vector<cuda::DeviceState>{st0});
        OptimizerScalars scalars;
        scalars.beta1_power = config.beta1;
        scalars.beta2_power = config.beta2;
        const float grad_scale = scaled ? 0.37f : 1.0f;
        for (int step = 0; step < 3; ++step) {
          const std::vector<float> g = random_floats(layout.size, -0.2f, 0.2f, seed++);
          DeviceArray<float> dg(g);
          cuda::optimizer_update(config, dw.get(), dg.get(), num_slots > 0 ? ds0.get() : nullptr,
                                 num_slots > 1 ? ds1.get() : nullptr, dchunks.get(),
                                 static_cast<int>(chunks.size()), scaled ? dscale.get() : nullptr,
                                 state.get(), nullptr);
          for (std::size_t t = 0; t < layout.count.size(); ++t) {
            const int64_t o = layout.offset[t];
            cpu::optimizer_update(config, scalars, w.data() + o, g.data() + o,
                                  num_slots > 0 ? s0.data() + o : nullptr,
                                  num_slots > 1 ? s1.data() + o : nullptr, layout.count[t], grad_scale);
          }
          scalars.step += 1;
          if (kind == OptimizerKind::kAdam) {
            scalars.beta1_power *= config.beta1;
            scalars.beta2_power *= config.beta2;
          }
        }
        EXPECT_TRUE(all_close(dw.to_host(), w, 1e-6, 1e-5));
        if (num_slots > 0) {
          EXPECT_TRUE(all_close(ds0.to_host(), s0, 1e-6, 1e-5));
        }
        if (num_slots > 1) {
          EXPECT_TRUE(all_close(ds1.to_host(), s1, 1e-6, 1e-5));
        }
        const cuda::DeviceState h = state.to_host()[0];
        EXPECT_EQ(h.step, 3);
        EXPECT_EQ(h.update_arrivals, 0u);
        EXPECT_FLOAT_EQ(h.beta1_power, scalars.beta1_power);
        EXPECT_FLOAT_EQ(h.beta2_power, scalars.beta2_power);
      }
    }
  }
}

TEST(CudaKernels, AdvanceScalarsWithoutParameters) {
  GRAFT_REQUIRE_CUDA();
  OptimizerConfig config;
  config.kind = OptimizerKind::kAdam;
  cuda::DeviceState st0{};
  st0.beta1_power = 0.9f;
  st0.beta2_power = 0.999f;
  DeviceArray<cuda::DeviceState> state(std::vector<cuda::DeviceState>{st0});
  cuda::optimizer_update(config, nullptr, nullptr, nullptr, nullptr, nullptr, 0, nullptr, state.get(),
                         nullptr);
  const cuda::DeviceState h = state.to_host()[0];
  EXPECT_EQ(h.step, 1);
  EXPECT_FLOAT_EQ(h.beta1_power, 0.9f * 0.9f);
  EXPECT_FLOAT_EQ(h.beta2_power, 0.999f * 0.999f);
}

TEST(CudaKernels, GlobalNormMatchesCpu) {
  GRAFT_REQUIRE_CUDA();
  const FlatLayout layout({1, 7, 33, 300, 1000, 4097, 9000});
  const auto chunks = cuda::make_update_chunks(layout.ranges());
  DeviceArray<cuda::UpdateChunk> dchunks(chunks);
  DeviceArray<double> partials(chunks.size());
  std::vector<float> g = random_floats(layout.size, -0.1f, 0.1f, 500);
  // Padding between tensors is not part of any chunk: poison it.
  for (std::size_t t = 0; t + 1 < layout.count.size(); ++t) {
    for (int64_t i = layout.offset[t] + layout.count[t]; i < layout.offset[t + 1]; ++i) g[i] = 1e6f;
  }
  double ref = 0.0;
  for (std::size_t t = 0; t < layout.count.size(); ++t) {
    ref += cpu::sum_of_squares(g.data() + layout.offset[t], layout.count[t]);
  }
  DeviceArray<float> dg(g);
  for (float clip_norm : {0.5f, 1000.0f}) {
    SCOPED_TRACE("clip_norm=" + std::to_string(clip_norm));
    DeviceArray<cuda::DeviceState> state(1);
    cuda::global_norm_scale(dg.get(), dchunks.get(), static_cast<int>(chunks.size()), clip_norm,
                            partials.get(), state.get(), nullptr);
    const cuda::DeviceState h = state.to_host()[0];
    EXPECT_NEAR(h.grad_sumsq, ref, 1e-6 * ref);
    const double norm = std::sqrt(ref);
    const float ref_scale = static_cast<float>(clip_norm / std::max<double>(clip_norm, norm));
    EXPECT_NEAR(h.norm_scale, ref_scale, 1e-6 * ref_scale);
    EXPECT_EQ(h.norm_arrivals, 0u);
    if (clip_norm > norm) {
      EXPECT_EQ(h.norm_scale, 1.0f);
    }
  }
  // A non-finite gradient gives a NaN scale, as on the CPU.
  g[layout.offset[1] + 5] = std::numeric_limits<float>::infinity();  // inside tensor 1, not padding
  DeviceArray<float> dbad(g);
  DeviceArray<cuda::DeviceState> state(1);
  cuda::global_norm_scale(dbad.get(), dchunks.get(), static_cast<int>(chunks.size()), 1.0f,
                          partials.get(), state.get(), nullptr);
  EXPECT_TRUE(std::isnan(state.to_host()[0].norm_scale));
}

}  // namespace
}  // namespace graft
