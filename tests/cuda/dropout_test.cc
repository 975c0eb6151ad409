// Dropout's CUDA kernels (cuda/dropout.h) against the CPU twins
// (host/cpu/dropout_kernels.h): bit-identical outputs, hence masks (integer
// Philox on both sides and one float multiply), on odd shapes; in place; and
// a captured CUDA graph replayed with a new step in device memory each time
// draws that step's mask.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "checkpoint/error.h"
#include "cuda/cuda_check.h"
#include "cuda/dropout.h"
#include "host/cpu/dropout_kernels.h"
#include "tests/cuda/gpu_test_util.h"

namespace graft {
namespace {

using test::DeviceArray;
using test::random_floats;

// Bit equality (EXPECT_EQ on floats would also pass -0 vs +0).
::testing::AssertionResult same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << "sizes differ";
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) {
      return ::testing::AssertionFailure() << "element " << i << ": " << a[i] << " vs " << b[i];
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(CudaDropout, MasksAreBitIdenticalToTheCpus) {
  GRAFT_REQUIRE_CUDA();
  struct Shape {
    int64_t rows, cols;
  };
  uint32_t seed = 1;
  for (const Shape& s : {Shape{37, 129}, Shape{1, 5}, Shape{1000, 300}}) {
    for (float rate : {0.0f, 0.1f, 0.5f, 0.9f}) {
      SCOPED_TRACE(::testing::Message() << s.rows << "x" << s.cols << " rate " << rate);
      const std::vector<float> x = random_floats(s.rows * s.cols, -1, 1, ++seed);
      const uint64_t step = (uint64_t{1} << 33) + seed;  // both words of the step in use
      std::vector<float> want(x.size()), want_back(x.size());
      cpu::dropout_forward(x.data(), s.rows, s.cols, rate, 1234, step, 7, want.data());
      cpu::dropout_backward(x.data(), s.rows, s.cols, rate, 1234, step, 7, want_back.data());
      DeviceArray<float> dx(x), dy(x.size()), back(x.size()), in_place(x);
      DeviceArray<uint64_t> dstep(std::vector<uint64_t>{step});
      cuda::dropout_forward(dx.get(), s.rows, s.cols, rate, 1234, dstep.get(), 7, dy.get(), nullptr);
      cuda::dropout_backward(dx.get(), s.rows, s.cols, rate, 1234, dstep.get(), 7, back.get(), nullptr);
      cuda::dropout_forward(in_place.get(), s.rows, s.cols, rate, 1234, dstep.get(), 7, in_place.get(), nullptr);
      EXPECT_TRUE(same_bits(dy.to_host(), want));
      EXPECT_TRUE(same_bits(back.to_host(), want_back));
      EXPECT_TRUE(same_bits(in_place.to_host(), want));
    }
  }
}

TEST(CudaDropout, GraphReplayReadsTheStepFromDeviceMemory) {
  GRAFT_REQUIRE_CUDA();
  const int64_t rows = 50, cols = 300;
  const std::vector<float> x = random_floats(rows * cols, 0.5f, 1.5f, 9);
  DeviceArray<float> dx(x), dy(x.size());
  DeviceArray<uint64_t> dstep(std::vector<uint64_t>{0});
  cudaStream_t stream;
  GRAFT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  GRAFT_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  cuda::dropout_forward(dx.get(), rows, cols, 0.3f, 77, dstep.get(), 3, dy.get(), stream);
  GRAFT_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
  GRAFT_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  std::vector<float> previous;
  for (uint64_t step : {5u, 6u, 1000u}) {
    GRAFT_CUDA_CHECK(cudaMemcpyAsync(dstep.get(), &step, sizeof step, cudaMemcpyHostToDevice, stream));
    GRAFT_CUDA_CHECK(cudaGraphLaunch(exec, stream));
    GRAFT_CUDA_CHECK(cudaStreamSynchronize(stream));
    std::vector<float> want(x.size());
    cpu::dropout_forward(x.data(), rows, cols, 0.3f, 77, step, 3, want.data());
    const std::vector<float> got = dy.to_host();
    EXPECT_TRUE(same_bits(got, want)) << "step " << step;
    EXPECT_NE(got, previous) << "step " << step << " replayed the previous mask";
    previous = got;
  }
  GRAFT_CUDA_CHECK(cudaGraphExecDestroy(exec));
  GRAFT_CUDA_CHECK(cudaGraphDestroy(graph));
  GRAFT_CUDA_CHECK(cudaStreamDestroy(stream));
}

TEST(CudaDropout, RefusesRatesOutside01) {
  GRAFT_REQUIRE_CUDA();
  DeviceArray<float> x(4, 1.0f);
  DeviceArray<uint64_t> step(std::vector<uint64_t>{0});
  EXPECT_THROW(cuda::dropout_forward(x.get(), 2, 2, 1.0f, 1, step.get(), 0, x.get(), nullptr), Error);
  EXPECT_THROW(cuda::dropout_backward(x.get(), 2, 2, -0.5f, 1, step.get(), 0, x.get(), nullptr), Error);
}

}  // namespace
}  // namespace graft
