// The CPU backend: gradients of a 3-layer network against double-precision
// finite differences (every activation, small and large batches, one and two
// threads), one SGD and one Adam step worked out by hand, clipping by global
// norm, frozen parameters, the frozen-prefix path, shuffling and errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <ostream>
#include <random>
#include <vector>

#include "checkpoint/error.h"
#include "host/backend.h"
#include "host/data/shuffle_key.h"
#include "tests/common/tolerance.h"
#include "tests/host/mlp_reference.h"

namespace graft {
namespace {

std::vector<DenseLayerShape> shapes(const std::vector<int64_t>& dims, const Activation& hidden) {
  std::vector<DenseLayerShape> out;
  for (std::size_t l = 0; l + 1 < dims.size(); ++l) {
    DenseLayerShape s;
    s.fan_in = dims[l];
    s.fan_out = dims[l + 1];
    s.activation = l + 2 == dims.size() ? Activation{ActivationKind::kIdentity} : hidden;
    out.push_back(s);
  }
  return out;
}

// Random parameters written to the backend and mirrored in a reference.
test::ReferenceMlp randomize(Backend& backend, const std::vector<int64_t>& dims, const Activation& hidden,
                             uint32_t seed) {
  test::ReferenceMlp ref;
  ref.dims = dims;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-0.6f, 0.6f);
  for (std::size_t l = 0; l + 1 < dims.size(); ++l) {
    ref.activations.push_back(l + 2 == dims.size() ? Activation{ActivationKind::kIdentity} : hidden);
    for (int64_t size : {dims[l] * dims[l + 1], dims[l + 1]}) {
      std::vector<float> v(static_cast<std::size_t>(size));
      for (float& x : v) x = u(rng);
      backend.write_param(static_cast<int>(ref.params.size()), v.data());
      ref.params.emplace_back(v.begin(), v.end());
    }
  }
  return ref;
}

struct Batch {
  std::vector<float> x;
  std::vector<int32_t> y;
};

Batch random_batch(int64_t n, int64_t cols, int classes, uint32_t seed) {
  Batch b;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  b.x.resize(static_cast<std::size_t>(n * cols));
  for (float& v : b.x) v = u(rng);
  for (int64_t i = 0; i < n; ++i) b.y.push_back(static_cast<int32_t>(rng() % classes));
  return b;
}

// The gradient the backend applied: SGD with learning rate 1 and no
// clipping moves every parameter by exactly its gradient (up to the rounding
// of w - g, ~3e-8 for |w| < 0.6). sizes: elements of each parameter.
std::vector<std::vector<float>> applied_gradient(Backend& backend, const DeviceDataset& data, int64_t n,
                                                 const std::vector<std::vector<double>>& like) {
  std::vector<std::vector<float>> before, grads;
  for (int i = 0; i < backend.num_params(); ++i) {
    before.emplace_back(like[i].size());
    backend.read_param(i, before[i].data());
  }
  backend.train_step(data, 0, n, 0);
  for (int i = 0; i < backend.num_params(); ++i) {
    std::vector<float> after(like[i].size());
    backend.read_param(i, after.data());
    grads.emplace_back(after.size());
    for (std::size_t k = 0; k < after.size(); ++k) grads[i][k] = before[i][k] - after[k];
  }
  return grads;
}

OptimizerConfig sgd(float lr) {
  OptimizerConfig c;
  c.kind = OptimizerKind::kSgd;
  c.learning_rate = lr;
  return c;
}

struct GradientCase {
  const char* activation;
  int64_t batch;
  int threads;
};

void PrintTo(const GradientCase& c, std::ostream* os) {
  *os << c.activation << ", batch " << c.batch << ", " << c.threads << " thread(s)";
}

class NetworkGradient : public ::testing::TestWithParam<GradientCase> {};

TEST_P(NetworkGradient, MatchesFiniteDifferences) {
  const GradientCase c = GetParam();
  const Activation act = *parse_activation(c.activation);
  // 3 layers; the widths make the large batch take the row-split paths.
  const std::vector<int64_t> dims = {7, 6, 5, 4};
  auto backend = make_cpu_backend(c.threads);
  backend->build(shapes(dims, act), sgd(1.0f), c.batch);
  const test::ReferenceMlp ref = randomize(*backend, dims, act, 11);
  const Batch b = random_batch(c.batch, dims[0], 4, 5);
  auto data = backend->upload(b.x.data(), b.y.data(), c.batch, dims[0]);

  // The loss the backend reports agrees with the double reference.
  const EpochTotals eval = backend->evaluate(*data, 0);
  EXPECT_NEAR(eval.loss_sum / eval.samples, ref.loss(b.x, b.y), 2e-6);

  const auto numeric = ref.numeric_gradient(b.x, b.y);
  const auto grads = applied_gradient(*backend, *data, c.batch, ref.params);
  for (std::size_t p = 0; p < numeric.size(); ++p) {
    std::vector<float> expected(numeric[p].begin(), numeric[p].end());
    const std::vector<float>& got = grads[p];
    // Tolerance: float forward/backward (~1e-7 relative per op) and the
    // w - g rounding (3e-8) against a difference quotient exact to ~1e-9.
    EXPECT_TRUE(test::all_close(got, expected, 2e-6, 1e-4))
        << c.activation << " batch " << c.batch << " parameter " << p;
  }
  const EpochTotals train = backend->take_train_totals();
  EXPECT_EQ(train.samples, c.batch);
  EXPECT_NEAR(train.loss_sum, eval.loss_sum, 1e-4 * std::fabs(eval.loss_sum));
  EXPECT_EQ(backend->take_train_totals().samples, 0);
}

INSTANTIATE_TEST_SUITE_P(
    Activations, NetworkGradient,
    ::testing::Values(GradientCase{"relu", 5, 1}, GradientCase{"elu", 5, 1}, GradientCase{"selu", 5, 1},
                      GradientCase{"leaky_relu", 5, 1}, GradientCase{"tanh", 5, 1}, GradientCase{"sigmoid", 5, 1},
                      GradientCase{"identity", 5, 1}, GradientCase{"relu", 300, 2}, GradientCase{"elu", 300, 2},
                      GradientCase{"tanh", 7, 2}),
    [](const auto& info) {
      return std::string(info.param.activation) + "_batch" + std::to_string(info.param.batch) + "_threads" +
             std::to_string(info.param.threads);
    });

// A 2-2-2 ReLU network and one sample, every value written out.
struct TinyNet {
  float x[2] = {1.0f, 2.0f};
  int32_t label = 1;
  float w1[4] = {0.1f, -0.2f, 0.3f, 0.4f};  // [in, out]
  float b1[2] = {0.01f, -0.02f};
  float w2[4] = {0.5f, -0.6f, -0.7f, 0.8f};
  float b2[2] = {0.05f, -0.05f};
  double g[4][4];  // gradients of w1, b1, w2, b2

  TinyNet() {
    const double z1[2] = {x[0] * w1[0] + x[1] * w1[2] + b1[0], x[0] * w1[1] + x[1] * w1[3] + b1[1]};  // 0.71, 0.58
    const double h[2] = {std::max(z1[0], 0.0), std::max(z1[1], 0.0)};
    const double logit[2] = {h[0] * w2[0] + h[1] * w2[2] + b2[0], h[0] * w2[1] + h[1] * w2[3] + b2[1]};
    const double e0 = std::exp(logit[0]), e1 = std::exp(logit[1]);
    const double d[2] = {e0 / (e0 + e1), e1 / (e0 + e1) - 1.0};  // label 1
    const double dh[2] = {d[0] * w2[0] + d[1] * w2[1], d[0] * w2[2] + d[1] * w2[3]};
    const double dz[2] = {z1[0] > 0 ? dh[0] : 0.0, z1[1] > 0 ? dh[1] : 0.0};
    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 2; ++j) {
        g[0][i * 2 + j] = x[i] * dz[j];
        g[2][i * 2 + j] = h[i] * d[j];
      }
      g[1][i] = dz[i];
      g[3][i] = d[i];
    }
  }
  const float* param(int i) const { return i == 0 ? w1 : i == 1 ? b1 : i == 2 ? w2 : b2; }
  int size(int i) const { return i % 2 == 0 ? 4 : 2; }
};

std::unique_ptr<Backend> tiny_backend(const TinyNet& net, const OptimizerConfig& opt,
                                      std::unique_ptr<DeviceDataset>* data) {
  auto backend = make_cpu_backend(1);
  backend->build(shapes({2, 2, 2}, Activation{ActivationKind::kRelu}), opt, 4);
  for (int i = 0; i < 4; ++i) backend->write_param(i, net.param(i));
  *data = backend->upload(net.x, &net.label, 1, 2);
  return backend;
}

TEST(CpuBackend, OneSgdStepByHand) {
  const TinyNet net;
  std::unique_ptr<DeviceDataset> data;
  auto backend = tiny_backend(net, sgd(0.1f), &data);
  backend->train_step(*data, 0, 1, 0);
  for (int i = 0; i < 4; ++i) {
    std::vector<float> got(net.size(i)), expected(net.size(i));
    backend->read_param(i, got.data());
    for (int k = 0; k < net.size(i); ++k) expected[k] = static_cast<float>(net.param(i)[k] - 0.1 * net.g[i][k]);
    EXPECT_TRUE(test::all_close(got, expected, 1e-7, 1e-6)) << "parameter " << i;
  }
  EXPECT_EQ(backend->read_scalars().step, 1);
}

TEST(CpuBackend, OneAdamStepByHand) {
  const TinyNet net;
  OptimizerConfig adam;
  adam.kind = OptimizerKind::kAdam;
  adam.learning_rate = 0.01f;
  std::unique_ptr<DeviceDataset> data;
  auto backend = tiny_backend(net, adam, &data);
  const OptimizerScalars before = backend->read_scalars();
  EXPECT_FLOAT_EQ(before.beta1_power, 0.9f);
  EXPECT_FLOAT_EQ(before.beta2_power, 0.999f);
  backend->train_step(*data, 0, 1, 0);
  const double lr_t = 0.01 * std::sqrt(1 - 0.999) / (1 - 0.9);
  for (int i = 0; i < 4; ++i) {
    std::vector<float> w(net.size(i)), m(net.size(i)), v(net.size(i));
    std::vector<float> ew(net.size(i)), em(net.size(i)), ev(net.size(i));
    backend->read_param(i, w.data());
    backend->read_slot(i, 0, m.data());
    backend->read_slot(i, 1, v.data());
    for (int k = 0; k < net.size(i); ++k) {
      const double g = net.g[i][k];
      em[k] = static_cast<float>(0.1 * g);
      ev[k] = static_cast<float>(0.001 * g * g);
      ew[k] = static_cast<float>(net.param(i)[k] - lr_t * (0.1 * g) / (std::sqrt(0.001 * g * g) + 1e-8));
    }
    EXPECT_TRUE(test::all_close(m, em, 1e-9, 1e-5)) << "Adam slot of parameter " << i;
    // 1 - beta2 in float (as TF computes it) is 0.001 * (1 - 1.3e-5).
    EXPECT_TRUE(test::all_close(v, ev, 1e-12, 2e-5)) << "Adam_1 slot of parameter " << i;
    EXPECT_TRUE(test::all_close(w, ew, 1e-7, 1e-6)) << "parameter " << i;
  }
  const OptimizerScalars after = backend->read_scalars();
  EXPECT_EQ(after.step, 1);
  EXPECT_FLOAT_EQ(after.beta1_power, 0.81f);
  EXPECT_FLOAT_EQ(after.beta2_power, 0.999f * 0.999f);
}

TEST(CpuBackend, ClipByGlobalNorm) {
  const TinyNet net;
  double norm2 = 0;
  for (int i = 0; i < 4; ++i) {
    for (int k = 0; k < net.size(i); ++k) norm2 += net.g[i][k] * net.g[i][k];
  }
  const double norm = std::sqrt(norm2);
  for (double limit : {0.25 * norm, 4.0 * norm}) {
    OptimizerConfig opt = sgd(0.1f);
    opt.clip_norm = static_cast<float>(limit);
    std::unique_ptr<DeviceDataset> data;
    auto backend = tiny_backend(net, opt, &data);
    backend->train_step(*data, 0, 1, 0);
    const double scale = limit / std::max(limit, norm);  // 0.25, then 1
    for (int i = 0; i < 4; ++i) {
      std::vector<float> got(net.size(i)), expected(net.size(i));
      backend->read_param(i, got.data());
      for (int k = 0; k < net.size(i); ++k) {
        expected[k] = static_cast<float>(net.param(i)[k] - 0.1 * scale * net.g[i][k]);
      }
      EXPECT_TRUE(test::all_close(got, expected, 1e-7, 1e-6)) << "limit " << limit << " parameter " << i;
    }
  }
}

TEST(CpuBackend, ClipByValueThroughTheStep) {
  const TinyNet net;
  OptimizerConfig opt = sgd(0.1f);
  opt.clip_value = 0.05f;
  std::unique_ptr<DeviceDataset> data;
  auto backend = tiny_backend(net, opt, &data);
  backend->train_step(*data, 0, 1, 0);
  for (int i = 0; i < 4; ++i) {
    std::vector<float> got(net.size(i)), expected(net.size(i));
    backend->read_param(i, got.data());
    for (int k = 0; k < net.size(i); ++k) {
      expected[k] = static_cast<float>(net.param(i)[k] - 0.1 * std::clamp(net.g[i][k], -0.05, 0.05));
    }
    EXPECT_TRUE(test::all_close(got, expected, 1e-7, 1e-6)) << "parameter " << i;
  }
}

TEST(CpuBackend, FrozenParametersStayAndPrefixCacheMatches) {
  const std::vector<int64_t> dims = {20, 16, 12, 5};
  const Activation relu{ActivationKind::kRelu};
  const Batch b = random_batch(64, dims[0], 5, 3);
  OptimizerConfig opt;
  opt.kind = OptimizerKind::kMomentum;
  opt.learning_rate = 0.05f;

  // A: layer 0 frozen, trained from the raw inputs.
  auto a = make_cpu_backend(2);
  a->build(shapes(dims, relu), opt, 64);
  randomize(*a, dims, relu, 9);
  a->set_trainable(0, false);
  a->set_trainable(1, false);
  EXPECT_FALSE(a->trainable(0));
  EXPECT_TRUE(a->trainable(2));
  std::vector<float> w0(dims[0] * dims[1]), w0_after(w0.size());
  a->read_param(0, w0.data());
  auto data_a = a->upload(b.x.data(), b.y.data(), 64, dims[0]);
  // B: the same, trained from forward_prefix(.., 1) with first_layer 1.
  auto bk = make_cpu_backend(1);
  bk->build(shapes(dims, relu), opt, 64);
  randomize(*bk, dims, relu, 9);
  bk->set_trainable(0, false);
  bk->set_trainable(1, false);
  auto raw_b = bk->upload(b.x.data(), b.y.data(), 64, dims[0]);
  auto cached = bk->forward_prefix(*raw_b, 1);
  EXPECT_EQ(cached->rows(), 64);
  EXPECT_EQ(cached->cols(), dims[1]);
  EXPECT_EQ(cached->bytes(), 64 * dims[1] * 4 + 64 * 8);
  EXPECT_NEAR(a->evaluate(*data_a, 0).loss_sum, bk->evaluate(*cached, 1).loss_sum, 1e-4);

  for (int step = 0; step < 3; ++step) {
    a->shuffle(*data_a, 7, step);
    bk->shuffle(*cached, 7, step);
    a->train_step(*data_a, 0, 32, 0);
    bk->train_step(*cached, 0, 32, 1);
  }
  a->read_param(0, w0_after.data());
  EXPECT_EQ(w0, w0_after);
  for (int i = 1; i < 6; ++i) {
    std::vector<float> pa(dims[0] * dims[1]), pb(pa.size());
    a->read_param(i, pa.data());
    bk->read_param(i, pb.data());
    EXPECT_TRUE(test::all_close(pa, pb, 1e-6, 1e-5)) << "parameter " << i;
  }
  EXPECT_NEAR(a->take_train_totals().loss_sum, bk->take_train_totals().loss_sum, 1e-4);
}

// Every parameter tensor, each read into a buffer of `size` floats (at
// least the largest tensor's; the rest stays zero).
std::vector<std::vector<float>> read_all_params(Backend& backend, int64_t size) {
  std::vector<std::vector<float>> out;
  for (int i = 0; i < backend.num_params(); ++i) {
    out.emplace_back(size);
    backend.read_param(i, out.back().data());
  }
  return out;
}

TEST(CpuBackend, OneAndTwoThreadsAgreeOnLargeBatches) {
  const std::vector<int64_t> dims = {300, 200, 60, 10};
  const Activation elu{ActivationKind::kElu};
  const Batch b = random_batch(600, dims[0], 10, 4);
  OptimizerConfig opt;
  opt.kind = OptimizerKind::kAdam;
  opt.learning_rate = 0.001f;
  opt.clip_norm = 5.0f;
  std::vector<std::vector<float>> results[2];
  for (int threads : {1, 2}) {
    auto backend = make_cpu_backend(threads);
    backend->build(shapes(dims, elu), opt, 512);
    randomize(*backend, dims, elu, 2);
    auto data = backend->upload(b.x.data(), b.y.data(), 600, dims[0]);
    backend->shuffle(*data, 1, 0);
    backend->train_step(*data, 0, 512, 0);
    backend->train_step(*data, 512, 88, 0);
    results[threads - 1] = read_all_params(*backend, dims[0] * dims[1]);
  }
  for (std::size_t i = 0; i < results[0].size(); ++i) {
    EXPECT_TRUE(test::all_close(results[1][i], results[0][i], 1e-6, 1e-4)) << "parameter " << i;
  }
}

// A small batch's forward GEMMs are split by kernel rows on more than one
// thread and the partial products summed (cpu_backend_forward.cc): training
// must give the one-thread result up to rounding, for an uneven split (3
// threads) too. Evaluation and predictions run fixed blocks of rows, so the
// same weights give the same loss and logits, bit for bit, on any number of
// threads (OpenBLAS's Zen/Haswell kernels round a row by where it falls in
// the GEMM's rows: a split by thread count failed this on an AMD EPYC).
TEST(CpuBackend, SmallBatchesAgreeAcrossThreadCounts) {
  const std::vector<int64_t> dims = {784, 300, 50, 10};
  const Activation relu{ActivationKind::kRelu};
  const Batch b = random_batch(120, dims[0], 10, 7);
  std::vector<std::vector<float>> results[3];
  for (int threads : {1, 2, 3}) {
    auto backend = make_cpu_backend(threads);
    backend->build(shapes(dims, relu), sgd(0.05f), 64);
    randomize(*backend, dims, relu, 3);
    auto data = backend->upload(b.x.data(), b.y.data(), 120, dims[0]);
    backend->shuffle(*data, 1, 0);
    backend->train_step(*data, 0, 50, 0);
    backend->train_step(*data, 50, 50, 0);
    results[threads - 1] = read_all_params(*backend, dims[0] * dims[1]);
  }
  for (int t : {1, 2}) {
    for (std::size_t i = 0; i < results[0].size(); ++i) {
      EXPECT_TRUE(test::all_close(results[t][i], results[0][i], 1e-6, 1e-4)) << t + 1 << " threads, parameter " << i;
    }
  }
  // Evaluated in chunks of 64 rows (one thread each), of 512 (two blocks of
  // 256, then 88 rows) and of 600 (three blocks: 256, 256, 88).
  const Batch big = random_batch(600, dims[0], 10, 8);
  for (int64_t max_batch : {64, 512, 600}) {
    double eval_loss[3] = {};
    std::vector<float> logits[3];
    for (int threads : {1, 2, 3}) {
      auto backend = make_cpu_backend(threads);
      backend->build(shapes(dims, relu), sgd(0.05f), max_batch);
      for (int i = 0; i < backend->num_params(); ++i) {
        backend->write_param(i, results[0][static_cast<std::size_t>(i)].data());
      }
      auto data = backend->upload(big.x.data(), big.y.data(), 600, dims[0]);
      eval_loss[threads - 1] = backend->evaluate(*data, 0).loss_sum;
      logits[threads - 1].resize(600 * 10);
      backend->predict_logits(big.x.data(), 600, dims[0], logits[threads - 1].data());
    }
    for (int t : {1, 2}) {
      EXPECT_EQ(eval_loss[t], eval_loss[0]) << t + 1 << " threads, max batch " << max_batch;
      EXPECT_EQ(std::memcmp(logits[t].data(), logits[0].data(), logits[0].size() * sizeof(float)), 0)
          << t + 1 << " threads, max batch " << max_batch << ": predicted logits differ";
    }
  }
}

TEST(CpuBackend, ShuffleIsTheSortedKeyPermutation) {
  auto backend = make_cpu_backend(1);
  backend->build(shapes({1, 3}, Activation{}), sgd(1.0f), 1000);
  const int64_t rows = 1000;
  std::vector<float> x(rows);
  std::vector<int32_t> y(rows);
  for (int64_t i = 0; i < rows; ++i) {
    x[i] = static_cast<float>(i);
    y[i] = static_cast<int32_t>(i % 3);
  }
  auto data = backend->upload(x.data(), y.data(), rows, 1);
  // The order is observed through training: a one-row batch at position p,
  // from zero parameters, raises only the bias of that row's label.
  std::vector<uint32_t> expected(rows);
  for (uint32_t i = 0; i < rows; ++i) expected[i] = i;
  std::stable_sort(expected.begin(), expected.end(),
                   [](uint32_t a, uint32_t b) { return shuffle_key(42, 3, a) < shuffle_key(42, 3, b); });
  backend->shuffle(*data, 42, 3);
  const float zeros[3] = {0, 0, 0};
  for (int p = 0; p < 20; ++p) {
    backend->write_param(0, zeros);
    backend->write_param(1, zeros);
    backend->train_step(*data, p, 1, 0);
    float bias[3];
    backend->read_param(1, bias);
    // Uniform softmax: the label's bias moves by lr * (1 - 1/3) > 0, only it.
    const int label = static_cast<int>(std::max_element(bias, bias + 3) - bias);
    EXPECT_EQ(label, static_cast<int>(expected[p] % 3)) << "position " << p;
  }
}

TEST(CpuBackend, RejectsBadCalls) {
  auto backend = make_cpu_backend(1);
  EXPECT_THROW(backend->build({}, sgd(0.1f), 10), Error);
  auto bad = shapes({4, 3, 2}, Activation{});
  bad[1].fan_in = 5;
  EXPECT_THROW(backend->build(bad, sgd(0.1f), 10), Error);
  backend->build(shapes({4, 3, 2}, Activation{}), sgd(0.1f), 10);
  EXPECT_EQ(backend->num_params(), 4);
  EXPECT_THROW(backend->write_param(4, nullptr), Error);
  EXPECT_THROW(backend->read_slot(0, 0, nullptr), Error);  // sgd has no slots
  const Batch b = random_batch(20, 4, 2, 1);
  auto data = backend->upload(b.x.data(), b.y.data(), 20, 4);
  EXPECT_THROW(backend->train_step(*data, 0, 11, 0), Error);   // above max_batch
  EXPECT_THROW(backend->train_step(*data, 15, 10, 0), Error);  // past the end
  EXPECT_THROW(backend->train_step(*data, 0, 5, 1), Error);    // 4 columns, layer 1 takes 3
  EXPECT_THROW(backend->forward_prefix(*data, 3), Error);
  EXPECT_NO_THROW(backend->train_step(*data, 10, 10, 0));
  EXPECT_NE(backend->description().find("cpu"), std::string::npos);
}

}  // namespace
}  // namespace graft
