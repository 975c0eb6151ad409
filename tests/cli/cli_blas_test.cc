// The OpenBLAS kernel correction end to end: the graft binary run with
// OpenBLAS forced onto its generic Prescott kernels, as it is on a CPU it
// does not know. Only these commands set OPENBLAS_CORETYPE (for themselves);
// the rest of the suite runs under the machine's own environment.
#include <gtest/gtest.h>

#include <string>

#include "host/cpu/blas_kernels.h"
#include "host/cpu/libxsmm_gemm.h"
#include "tests/cli/cli_util.h"
#include "tests/common/expect_contains.h"

namespace graft {
namespace {

using test::graft_env;

// The core graft should move a Prescott OpenBLAS to on this CPU, or skips.
#define REQUIRE_BETTER_THAN_PRESCOTT(var)                                             \
  const std::string var = cpu::best_core(cpu::host_cpu_features());                  \
  if (var.empty()) GTEST_SKIP() << "this CPU has no AVX: Prescott kernels are its best"

TEST(CliBlas, GenericKernelsAreCorrectedAndReported) {
  REQUIRE_BETTER_THAN_PRESCOTT(best);
  // GRAFT_BLAS_CORE=auto: graft corrects even a core type set in the
  // environment, which is how a mis-detecting OpenBLAS is simulated here.
  const auto r = graft_env("OPENBLAS_CORETYPE=Prescott GRAFT_BLAS_CORE=auto", "--version");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "CPU BLAS: OpenBLAS 0.");
  EXPECT_CONTAINS(r.output, ", " + best + " kernels [corrected from Prescott]\n");
  EXPECT_CONTAINS(r.output, "graft ran itself again with OPENBLAS_CORETYPE=" + best);
}

// The GEMM line of --version follows GRAFT_CPU_GEMM (host/cpu/gemm_engine.h).
TEST(CliBlas, VersionSaysWhichLibraryRunsTheGemms) {
  auto r = graft_env("GRAFT_CPU_GEMM=openblas", "--version");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "CPU GEMM: OpenBLAS for every GEMM");
  r = graft_env("GRAFT_CPU_GEMM=fastest", "--version");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "GRAFT_CPU_GEMM=fastest not understood (auto, openblas or libxsmm), ignored");
  if (!cpu::libxsmm_info().built) GTEST_SKIP() << "graft is built without libxsmm (GRAFT_WITH_LIBXSMM)";
  r = graft_env("GRAFT_CPU_GEMM=libxsmm", "--version");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "JIT kernels where B fits ");
  EXPECT_CONTAINS(r.output, "; OpenBLAS the rest\n");
}

TEST(CliBlas, AUserSetCoreTypeIsKeptAndSaidSo) {
  REQUIRE_BETTER_THAN_PRESCOTT(best);
  const auto r = graft_env("OPENBLAS_CORETYPE=Prescott GRAFT_BLAS_CORE=", "--version");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, ", Prescott kernels [OPENBLAS_CORETYPE=Prescott from the environment; " + best +
                                " would suit this CPU]");
  EXPECT_CONTAINS(r.output, "GRAFT_BLAS_CORE=auto to let graft choose");
}

TEST(CliBlas, KeepPolicyReportsOnly) {
  REQUIRE_BETTER_THAN_PRESCOTT(best);
  const auto r = graft_env("OPENBLAS_CORETYPE=Prescott GRAFT_BLAS_CORE=keep", "--version");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, ", Prescott kernels [GRAFT_BLAS_CORE=keep; " + best + " would suit this CPU]");
}

TEST(CliBlas, TrainingHeaderNamesTheCorrectedKernels) {
  REQUIRE_BETTER_THAN_PRESCOTT(best);
  auto mnist = test::fixture("mnist");
  if (!mnist) GTEST_SKIP() << "fixture mnist not found";
  test::TempDir dir;
  const std::string data = test::mnist_as_training_data(*mnist, dir).string();
  const auto r = graft_env("OPENBLAS_CORETYPE=Prescott GRAFT_BLAS_CORE=auto",
                           "train --hidden 20,10 --epochs 1 --per-class 30 --validation 500 --device cpu --threads 1 "
                           "--data " + test::quote(data));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "device: cpu [cpu (OpenBLAS 0.");
  EXPECT_CONTAINS(r.output, ", " + best + " kernels [corrected from Prescott]");
  EXPECT_CONTAINS(r.output, ", 1 thread)]\n");  // after libxsmm's part, where it is used
}

}  // namespace
}  // namespace graft
