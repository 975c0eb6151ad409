// L1/L2 regularization and max-norm: the CUDA backend against the CPU
// backend (issue 17). Same weights, data and batches; the penalty in the
// training loss, its gradient before clipping (none, by value, by global
// norm) and max-norm after the update (axis 1 and 0), on the graph path;
// the fused step falls back and says why.
//
// Tolerances, as in backend_test.cc's small-net parity: params atol 3e-5,
// rtol 3e-4 (cuBLAS vs OpenBLAS summation order); loss sums 1e-5 relative
// (the penalty is summed in double on both sides, in chunks of 4096 in
// chunk order, only the order inside a chunk differs).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/cuda_backend_options.h"
#include "host/backend.h"
#include "tests/common/backend_compare.h"
#include "tests/common/small_net.h"
#include "tests/cuda/gpu_test_util.h"

namespace graft {
namespace {

using test::load;
using test::make_net;
using test::make_teacher_data;
using test::Net;
using test::params_close;
using test::read_params;
using test::TeacherData;

const Activation kRelu{ActivationKind::kRelu, 0.2f};
const Activation kIdentity{ActivationKind::kIdentity, 0.2f};

std::unique_ptr<Backend> gpu() {
  CudaBackendOptions o = CudaBackendOptions::from_env();
  o.allow_tf32 = false;
  return make_cuda_backend(o);
}

// Kernels: l1 1e-3 and l2 5e-3 (layer 1 only l2); biases l2 1e-3; max-norm
// on the first two kernels along `axis`.
std::vector<ParamRegularizer> regularizers(int axis, bool max_norm) {
  std::vector<ParamRegularizer> r(6);
  r[0].l1 = 1e-3f;
  r[0].l2 = 5e-3f;
  r[2].l2 = 5e-3f;
  r[4].l1 = 1e-3f;
  r[1].l2 = r[3].l2 = 1e-3f;
  if (max_norm) {
    for (int k : {0, 2}) {
      r[k].max_norm = 0.6f;
      r[k].max_norm_axis = axis;
    }
  }
  return r;
}

TEST(CudaRegularization, MatchesCpu) {
  GRAFT_REQUIRE_CUDA();
  const TeacherData data = make_teacher_data(101, 13, 5, 11);
  const Net net = make_net({13, 33, 7, 5}, {kRelu, kRelu, kIdentity}, 21);
  for (int clip = 0; clip < 3; ++clip) {
    for (int axis : {1, 0}) {
      for (bool max_norm : {false, true}) {
        SCOPED_TRACE("clip " + std::to_string(clip) + " axis " + std::to_string(axis) + " max-norm " +
                     std::to_string(max_norm));
        OptimizerConfig config;
        config.kind = OptimizerKind::kMomentum;
        config.learning_rate = 0.05f;
        if (clip == 1) config.clip_value = 0.05f;
        if (clip == 2) config.clip_norm = 0.5f;
        auto g = gpu();
        auto c = make_cpu_backend(1);
        load(*g, net, config, 13);
        load(*c, net, config, 13);
        g->set_regularization(regularizers(axis, max_norm));
        c->set_regularization(regularizers(axis, max_norm));
        g->set_trainable(5, false);  // a frozen bias: no penalty gradient, its penalty (none) aside
        c->set_trainable(5, false);
        auto gd = g->upload(data.x.data(), data.y.data(), data.rows, data.cols);
        auto cd = c->upload(data.x.data(), data.y.data(), data.rows, data.cols);
        const auto gt = test::train(*g, *gd, 13, 3, 0, 5);
        const auto ct = test::train(*c, *cd, 13, 3, 0, 5);
        EXPECT_TRUE(params_close(read_params(*g, net), read_params(*c, net), 3e-5, 3e-4));
        for (std::size_t e = 0; e < ct.size(); ++e) test::expect_totals_close(gt[e], ct[e], 1e-5, 1);
        const CudaBackendStats st = cuda_backend_stats(*g);
        EXPECT_EQ(st.fused_steps, 0);
        if (CudaBackendOptions::from_env().fused_step && clip != 2) {
          EXPECT_NE(st.fused_error.find("regularization"), std::string::npos) << st.fused_error;
        }
      }
    }
  }
}

TEST(CudaRegularization, MaxNormAloneFallsBackSayingSo) {
  GRAFT_REQUIRE_CUDA();
  CudaBackendOptions o = CudaBackendOptions::from_env();
  o.fused_step = true;
  o.allow_tf32 = false;
  auto g = make_cuda_backend(o);
  const Net net = make_net({13, 8, 5}, {kRelu, kIdentity}, 3);
  OptimizerConfig config;
  load(*g, net, config, 16);
  std::vector<ParamRegularizer> r(4);
  r[0].max_norm = 0.5f;
  g->set_regularization(r);
  const TeacherData data = make_teacher_data(32, 13, 5, 4);
  auto d = g->upload(data.x.data(), data.y.data(), data.rows, data.cols);
  g->train_step(*d, 0, 16, 0);
  EXPECT_EQ(cuda_backend_stats(*g).fused_steps, 0);
  EXPECT_NE(cuda_backend_stats(*g).fused_error.find("max-norm"), std::string::npos);
  std::vector<float> w(13 * 8);
  g->read_param(0, w.data());
  for (int row = 0; row < 13; ++row) {
    double s = 0.0;
    for (int c = 0; c < 8; ++c) s += double{w[row * 8 + c]} * w[row * 8 + c];
    EXPECT_LE(std::sqrt(s), 0.5 * (1 + 1e-6)) << row;
  }
}

}  // namespace
}  // namespace graft
