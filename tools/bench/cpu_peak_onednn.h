#pragma once
namespace graft_bench {
// GFLOP/s of oneDNN's FP32 matmul at n³ on `threads` OpenMP threads, median
// of `repeats` after a warm-up; 0 when this build has no oneDNN.
double onednn_sgemm_gflops(int threads, int n, int repeats);
}  // namespace graft_bench
