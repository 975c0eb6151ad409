// Batch norm's CUDA kernels (cuda/batch_norm.h) against their CPU twins
// (host/cpu/batch_norm_kernels.h), and the cuDNN path against graft's own,
// on odd shapes (37 x 129, 1 x 5, 1000 x 300) with fused identity, relu, elu.
//
// Tolerances (|gpu - cpu| <= atol + rtol * |cpu|), and why:
//   statistics (mean, var, rstd), dgamma, dbeta: rtol 2.4e-7 (2 float ulps),
//     atol 1e-9. Both sides sum in double and round once to float; the
//     orders differ (row lanes + a tree on the GPU, rows in order on the
//     CPU), moving the double sums by ~rows * 2^-53 relative to sum |terms|
//     (~1e-13), so the floats are equal or one ulp apart (rstd: sqrtf and a
//     division on a var 1 ulp off, still <= 2 ulps).
//   y: the same float formula on those statistics (IEEE sqrtf and division,
//     no FMA: -fmad=false, no -mfma on the host), so bit-equal when the
//     statistics are; one ulp of var moves inv by <= 2 ulps and shift =
//     beta - mean * inv by |mean * inv| * 2 ulps: atol 8 ulps of the largest
//     |x * inv| + |shift| term (scale_y below), plus elu's expf (CUDA <= 2
//     ulp vs glibc): rtol 4.8e-7.
//   dx = k * (n * g - sum_g - xhat * sum_gx): the sums may be one ulp apart,
//     the rest is the same float arithmetic: atol 8 ulps of the largest
//     bracket term k * (n |g| + |sum_g| + |xhat| |sum_gx|) (scale_dx).
//   moving averages: exact (the same three float operations).
//   cuDNN vs graft's kernels: cuDNN's reductions are float, in an order it
//     does not document: a sum of n terms is off by up to ~n * 2^-24 of
//     sum |terms| in the worst case (1000 rows: 6e-5), typically
//     sqrt(n) * 2^-24; and the biased variance is derived from cuDNN's
//     unbiased one (2 more roundings). rtol 1e-4 on the statistics and the
//     parameter gradients, 1e-4 of scale_y / scale_dx on y and dx. Set
//     before any GPU run: to be confirmed (and tightened) on a device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "checkpoint/error.h"
#include "cuda/batch_norm.h"
#include "host/cpu/batch_norm_kernels.h"
#include "host/cpu/node_ops.h"
#include "tests/common/tolerance.h"
#include "tests/cuda/gpu_test_util.h"

namespace graft {
namespace {

using test::all_close;
using test::DeviceArray;
using test::random_floats;

constexpr float kEps = 0.001f;
constexpr double kUlp = 1.0 / 8388608.0;  // 2^-23

struct Shape {
  int64_t rows, cols;
};
const Shape kShapes[] = {{37, 129}, {1, 5}, {1000, 300}};
const ActivationKind kKinds[] = {ActivationKind::kIdentity, ActivationKind::kRelu, ActivationKind::kElu};

// Inputs with a non-zero mean per column (so mean * inv matters) and
// gamma/beta away from 1/0.
struct Case {
  Shape shape;
  std::vector<float> x, gamma, beta, dy;
  Case(Shape s, uint32_t seed)
      : shape(s),
        x(random_floats(s.rows * s.cols, -2.0f, 3.0f, seed)),
        gamma(random_floats(s.cols, 0.5f, 1.5f, seed + 1)),
        beta(random_floats(s.cols, -0.5f, 0.5f, seed + 2)),
        dy(random_floats(s.rows * s.cols, -1.0f, 1.0f, seed + 3)) {}
};

struct Forward {
  std::vector<float> y, mean, var, rstd;
};

Forward cpu_forward(const Case& c, Activation act, bool affine) {
  Forward f{std::vector<float>(c.x.size()), std::vector<float>(c.shape.cols), std::vector<float>(c.shape.cols),
            std::vector<float>(c.shape.cols)};
  cpu::batch_norm_forward_train(c.x.data(), c.shape.rows, c.shape.cols, affine ? c.gamma.data() : nullptr,
                                affine ? c.beta.data() : nullptr, kEps, act, f.y.data(), f.mean.data(), f.var.data(),
                                f.rstd.data());
  return f;
}

// max over elements of |x * inv| + |shift| (the terms of y before act).
double scale_y(const Case& c, const Forward& f, bool affine) {
  double s = 0;
  for (int64_t r = 0; r < c.shape.rows; ++r) {
    for (int64_t j = 0; j < c.shape.cols; ++j) {
      const double inv = f.rstd[j] * (affine ? c.gamma[j] : 1.0f);
      const double shift = (affine ? c.beta[j] : 0.0f) - f.mean[j] * inv;
      s = std::max(s, std::fabs(c.x[r * c.shape.cols + j] * inv) + std::fabs(shift));
    }
  }
  return s;
}

// max over elements of k * (n |dy| + |sum_g| + |xhat| |sum_gx|) (|g| <= |dy|
// for identity, relu and elu).
double scale_dx(const Case& c, const Forward& f, bool affine, const std::vector<float>& sum_g,
                const std::vector<float>& sum_gx) {
  double s = 0;
  const double n = static_cast<double>(c.shape.rows);
  for (int64_t r = 0; r < c.shape.rows; ++r) {
    for (int64_t j = 0; j < c.shape.cols; ++j) {
      const int64_t i = r * c.shape.cols + j;
      const double k = (affine ? c.gamma[j] : 1.0f) * f.rstd[j] / n;
      const double xhat = (c.x[i] - f.mean[j]) * f.rstd[j];
      s = std::max(s, k * (n * std::fabs(c.dy[i]) + std::fabs(sum_g[j]) + std::fabs(xhat) * std::fabs(sum_gx[j])));
    }
  }
  return s;
}

TEST(CudaBatchNorm, ForwardTrainAndInferMatchCpu) {
  GRAFT_REQUIRE_CUDA();
  uint32_t seed = 100;
  for (const Shape& shape : kShapes) {
    const Case c(shape, seed += 10);
    for (ActivationKind kind : kKinds) {
      for (bool affine : {true, false}) {
        SCOPED_TRACE(::testing::Message() << shape.rows << "x" << shape.cols << " " << activation_name(Activation{kind})
                                          << (affine ? " affine" : " plain"));
        const Activation act{kind};
        const Forward want = cpu_forward(c, act, affine);
        DeviceArray<float> x(c.x), gamma(c.gamma), beta(c.beta), y(c.x.size()), mean(shape.cols),
            var(shape.cols), rstd(shape.cols);
        cuda::batch_norm_forward_train(x.get(), shape.rows, shape.cols, affine ? gamma.get() : nullptr,
                                       affine ? beta.get() : nullptr, kEps, act, y.get(), mean.get(), var.get(),
                                       rstd.get(), nullptr);
        EXPECT_TRUE(all_close(mean.to_host(), want.mean, 1e-9, 2 * kUlp));
        EXPECT_TRUE(all_close(var.to_host(), want.var, 1e-9, 2 * kUlp));
        EXPECT_TRUE(all_close(rstd.to_host(), want.rstd, 1e-9, 2 * kUlp));
        const double sy = scale_y(c, want, affine);
        EXPECT_TRUE(all_close(y.to_host(), want.y, 8 * kUlp * sy, 4 * kUlp));

        // Inference with the CPU's batch statistics as the moving ones.
        std::vector<float> want_inf(c.x.size());
        cpu::batch_norm_forward_infer(c.x.data(), shape.rows, shape.cols, affine ? c.gamma.data() : nullptr,
                                      affine ? c.beta.data() : nullptr, want.mean.data(), want.var.data(), kEps, act,
                                      want_inf.data());
        DeviceArray<float> mm(want.mean), mv(want.var), y_inf(c.x.size());
        cuda::batch_norm_forward_infer(x.get(), shape.rows, shape.cols, affine ? gamma.get() : nullptr,
                                       affine ? beta.get() : nullptr, mm.get(), mv.get(), kEps, act, y_inf.get(),
                                       nullptr);
        // Same inputs, same formula: only expf may differ.
        EXPECT_TRUE(all_close(y_inf.to_host(), want_inf, 1e-7, 4 * kUlp));
      }
    }
  }
}

TEST(CudaBatchNorm, MovingAverageUpdateIsExact) {
  GRAFT_REQUIRE_CUDA();
  const int64_t cols = 129;
  const std::vector<float> m0 = random_floats(cols, -1, 1, 1), v0 = random_floats(cols, 0.5f, 2, 2),
                           bm = random_floats(cols, -1, 1, 3), bv = random_floats(cols, 0.1f, 3, 4);
  for (bool bessel : {false, true}) {
    std::vector<float> m(m0), v(v0);
    cpu::batch_norm_update_moving(m.data(), v.data(), bm.data(), bv.data(), 37, cols, 0.99f, bessel);
    DeviceArray<float> dm(m0), dv(v0), dbm(bm), dbv(bv);
    cuda::batch_norm_update_moving(dm.get(), dv.get(), dbm.get(), dbv.get(), 37, cols, 0.99f, bessel, nullptr);
    EXPECT_EQ(dm.to_host(), m);
    EXPECT_EQ(dv.to_host(), v);
  }
}

TEST(CudaBatchNorm, BackwardMatchesCpu) {
  GRAFT_REQUIRE_CUDA();
  uint32_t seed = 200;
  for (const Shape& shape : kShapes) {
    const Case c(shape, seed += 10);
    for (ActivationKind kind : kKinds) {
      for (bool affine : {true, false}) {
        SCOPED_TRACE(::testing::Message() << shape.rows << "x" << shape.cols << " " << activation_name(Activation{kind})
                                          << (affine ? " affine" : " plain"));
        const Activation act{kind};
        const Forward f = cpu_forward(c, act, affine);
        const float* gamma_h = affine ? c.gamma.data() : nullptr;
        std::vector<float> dx(c.x.size()), dgamma(shape.cols), dbeta(shape.cols);
        cpu::batch_norm_backward(c.dy.data(), f.y.data(), act, c.x.data(), f.mean.data(), f.rstd.data(), gamma_h,
                                 shape.rows, shape.cols, dx.data(), dgamma.data(), dbeta.data());
        // The GPU runs on the CPU's forward outputs, so only the backward differs.
        DeviceArray<float> ddy(c.dy), dyv(f.y), dxv(c.x), dmean(f.mean), drstd(f.rstd), dgam(c.gamma),
            ddx(c.x.size()), ddgamma(shape.cols), ddbeta(shape.cols),
            sums(cuda::batch_norm_backward_scratch_size(shape.cols));
        cuda::batch_norm_backward(ddy.get(), dyv.get(), act, dxv.get(), dmean.get(), drstd.get(),
                                  affine ? dgam.get() : nullptr, shape.rows, shape.cols, ddx.get(), ddgamma.get(),
                                  ddbeta.get(), sums.get(), nullptr);
        EXPECT_TRUE(all_close(ddgamma.to_host(), dgamma, 1e-9, 2 * kUlp));
        EXPECT_TRUE(all_close(ddbeta.to_host(), dbeta, 1e-9, 2 * kUlp));
        const double sdx = scale_dx(c, f, affine, dbeta, dgamma);
        EXPECT_TRUE(all_close(ddx.to_host(), dx, 8 * kUlp * sdx, 0.0));

        // In place over dy, and without the parameter gradients.
        DeviceArray<float> in_place(c.dy);
        cuda::batch_norm_backward(in_place.get(), dyv.get(), act, dxv.get(), dmean.get(), drstd.get(),
                                  affine ? dgam.get() : nullptr, shape.rows, shape.cols, in_place.get(), nullptr,
                                  nullptr, sums.get(), nullptr);
        EXPECT_EQ(in_place.to_host(), ddx.to_host());
      }
    }
  }
}

// The inference-form backward (moving statistics; the CPU twin is the
// inference branch of host/cpu/node_ops.cc): the sums are taken in double on
// both sides, in different orders, so dgamma / dbeta are equal or one ulp
// apart (atol 1e-9, rtol 2 ulps, as the training form's); dx = act'(dy, y) *
// inv is the same two float operations on the same inputs (the derivative
// from the output needs no expf): 1 ulp.
TEST(CudaBatchNorm, InferenceBackwardMatchesCpu) {
  GRAFT_REQUIRE_CUDA();
  uint32_t seed = 250;
  for (const Shape& shape : kShapes) {
    const Case c(shape, seed += 10);
    const std::vector<float> mm = random_floats(shape.cols, -0.5f, 0.5f, seed + 5),
                             mv = random_floats(shape.cols, 0.3f, 2.0f, seed + 6);
    for (ActivationKind kind : kKinds) {
      for (bool affine : {true, false}) {
        SCOPED_TRACE(::testing::Message() << shape.rows << "x" << shape.cols << " " << activation_name(Activation{kind})
                                          << (affine ? " affine" : " plain"));
        const Activation act{kind};
        NodeShape node{shape.cols, shape.cols, act};
        node.kind = NodeKind::kBatchNorm;
        node.batch_norm.epsilon = kEps;
        std::vector<float> y(c.x.size());
        cpu::batch_norm_forward_infer(c.x.data(), shape.rows, shape.cols, affine ? c.gamma.data() : nullptr,
                                      affine ? c.beta.data() : nullptr, mm.data(), mv.data(), kEps, act, y.data());
        cpu::BatchNormTensors t;
        t.gamma = affine ? c.gamma.data() : nullptr;
        t.moving_mean = const_cast<float*>(mm.data());
        t.moving_variance = const_cast<float*>(mv.data());
        std::vector<float> dx(c.x.size()), dgamma(shape.cols), dbeta(shape.cols);
        cpu::batch_norm_backward(c.dy.data(), y.data(), c.x.data(), shape.rows, node, /*train=*/false, t, dx.data(),
                                 dgamma.data(), dbeta.data());
        DeviceArray<float> ddy(c.dy), dyv(y), dxv(c.x), dmm(mm), dmv(mv), dgam(c.gamma), ddx(c.x.size()),
            ddgamma(shape.cols), ddbeta(shape.cols);
        cuda::batch_norm_backward_infer(ddy.get(), dyv.get(), act, dxv.get(), dmm.get(), dmv.get(),
                                        affine ? dgam.get() : nullptr, kEps, shape.rows, shape.cols, ddx.get(),
                                        ddgamma.get(), ddbeta.get(), nullptr);
        EXPECT_TRUE(all_close(ddgamma.to_host(), dgamma, 1e-9, 2 * kUlp));
        EXPECT_TRUE(all_close(ddbeta.to_host(), dbeta, 1e-9, 2 * kUlp));
        EXPECT_TRUE(all_close(ddx.to_host(), dx, 0.0, kUlp));

        // In place over dy, and dx alone.
        DeviceArray<float> in_place(c.dy);
        cuda::batch_norm_backward_infer(in_place.get(), dyv.get(), act, dxv.get(), dmm.get(), dmv.get(),
                                        affine ? dgam.get() : nullptr, kEps, shape.rows, shape.cols, in_place.get(),
                                        nullptr, nullptr, nullptr);
        EXPECT_EQ(in_place.to_host(), ddx.to_host());
      }
    }
  }
}

TEST(CudaBatchNorm, CudnnPathMatchesOurs) {
  GRAFT_REQUIRE_CUDA();
  if (!cuda::cudnn_compiled_in()) GTEST_SKIP() << "this build has no cuDNN";
  uint32_t seed = 300;
  for (const Shape& shape : {Shape{37, 129}, Shape{1000, 300}}) {
    const Case c(shape, seed += 10);
    cuda::CudnnBatchNorm bn(shape.rows, shape.cols);
    for (ActivationKind kind : kKinds) {
      for (bool affine : {true, false}) {
        SCOPED_TRACE(::testing::Message() << shape.rows << "x" << shape.cols << " " << activation_name(Activation{kind})
                                          << (affine ? " affine" : " plain"));
        const Activation act{kind};
        const Forward f = cpu_forward(c, act, affine);
        DeviceArray<float> x(c.x), gamma(c.gamma), beta(c.beta), y(c.x.size()), mean(shape.cols), var(shape.cols),
            rstd(shape.cols);
        float* g = affine ? gamma.get() : nullptr;
        float* b = affine ? beta.get() : nullptr;
        bn.forward_train(x.get(), shape.rows, shape.cols, g, b, kEps, act, y.get(), mean.get(), var.get(), rstd.get(),
                         nullptr);
        EXPECT_TRUE(all_close(mean.to_host(), f.mean, 1e-6, 1e-4));
        EXPECT_TRUE(all_close(var.to_host(), f.var, 1e-6, 1e-4));
        EXPECT_TRUE(all_close(rstd.to_host(), f.rstd, 1e-6, 1e-4));
        const double sy = scale_y(c, f, affine);
        EXPECT_TRUE(all_close(y.to_host(), f.y, 1e-4 * sy, 0.0));

        DeviceArray<float> y_inf(c.x.size()), mm(f.mean), mv(f.var);
        bn.forward_infer(x.get(), shape.rows, shape.cols, g, b, mm.get(), mv.get(), kEps, act, y_inf.get(), nullptr);
        std::vector<float> want_inf(c.x.size());
        cpu::batch_norm_forward_infer(c.x.data(), shape.rows, shape.cols, affine ? c.gamma.data() : nullptr,
                                      affine ? c.beta.data() : nullptr, f.mean.data(), f.var.data(), kEps, act,
                                      want_inf.data());
        EXPECT_TRUE(all_close(y_inf.to_host(), want_inf, 1e-4 * sy, 0.0));

        std::vector<float> dx(c.x.size()), dgamma(shape.cols), dbeta(shape.cols);
        cpu::batch_norm_backward(c.dy.data(), f.y.data(), act, c.x.data(), f.mean.data(), f.rstd.data(),
                                 affine ? c.gamma.data() : nullptr, shape.rows, shape.cols, dx.data(), dgamma.data(),
                                 dbeta.data());
        DeviceArray<float> ddy(c.dy), dyv(f.y), dmean(f.mean), drstd(f.rstd), ddx(c.x.size()), ddg(shape.cols),
            ddb(shape.cols);
        bn.backward(ddy.get(), dyv.get(), act, x.get(), dmean.get(), drstd.get(), g, shape.rows, shape.cols, kEps,
                    ddx.get(), ddg.get(), ddb.get(), nullptr);
        double sum_scale = 0;
        for (size_t i = 0; i < c.dy.size(); ++i) sum_scale += std::fabs(c.dy[i]);
        sum_scale /= static_cast<double>(shape.cols);  // the mean column sum of |g|
        EXPECT_TRUE(all_close(ddb.to_host(), dbeta, 1e-4 * sum_scale, 1e-4));
        EXPECT_TRUE(all_close(ddg.to_host(), dgamma, 1e-4 * sum_scale, 1e-4));
        EXPECT_TRUE(all_close(ddx.to_host(), dx, 1e-4 * scale_dx(c, f, affine, dbeta, dgamma), 0.0));
      }
    }
  }
}

TEST(CudaBatchNorm, CudnnPathRefusesTinyEpsilon) {
  GRAFT_REQUIRE_CUDA();
  if (!cuda::cudnn_compiled_in()) {
    EXPECT_THROW(cuda::CudnnBatchNorm(4, 4), Error);
    return;
  }
  cuda::CudnnBatchNorm bn(4, 4);
  DeviceArray<float> x(16, 1.0f), y(16), m(4), v(4), r(4);
  EXPECT_THROW(bn.forward_train(x.get(), 4, 4, nullptr, nullptr, 1e-7f, Activation{ActivationKind::kIdentity}, y.get(),
                                m.get(), v.get(), r.get(), nullptr),
               Error);
  EXPECT_THROW(bn.forward_train(x.get(), 5, 4, nullptr, nullptr, kEps, Activation{ActivationKind::kIdentity}, y.get(),
                                m.get(), v.get(), r.get(), nullptr),
               Error);  // more rows than it was set up for
}

}  // namespace
}  // namespace graft
